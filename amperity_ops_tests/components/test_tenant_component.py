"""AmperityTenantComponent: in a fresh dg project (scaffold, refresh, check, list) and in Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import AssetKey, Definitions, asset
from dagster.components.core.component_tree import ComponentTree

from amperity_ops import AmperityTenantComponent
from amperity_ops.settings import ConfigError
from amperity_ops.simulator import Simulator, TenantSpec

TOKEN = "component-token"
DAILY = AssetKey(["amperity", "acme", "courier_groups", "daily_ecommerce_sources"])
DG = Path(sys.executable).parent / "dg"


@pytest.fixture
def two_tenants() -> Iterator[str]:
    """Tenants acme and globex over a real socket, each with a finished courier run.

    The simulator keeps real time here: the component's runtime reads the system clock.
    """
    sim = Simulator([TenantSpec(tenant_id=t, static_tokens=(TOKEN,), seed=7, schedules=False)
                     for t in ("acme", "globex")], rate_limit_rps=None)
    for tenant in ("acme", "globex"):
        world = sim.tenant(tenant)
        run = world.add_run(name="Daily Ecommerce Sources", type="courier.group/run",
                            state="succeeded", started_ago=timedelta(hours=3),
                            ended_ago=timedelta(hours=2), ingest_tables=())
        world.add_ingest_job(run_id=run.id, tables=("Shopify_Orders",))
    with sim.serve() as base_url:
        yield base_url


def _component(base_url: str, tenant: str, store: Path, **attributes: Any) -> Any:
    return AmperityTenantComponent(
        tenant={"name": tenant, "tenant_id": tenant, "base_url": base_url,
                "access_token": TOKEN, "rate_limit_backend": "memory"},
        store_url=f"sqlite:///{store}", **attributes)


def _defs_of(component: Any, state: Path) -> Definitions:
    component.write_state_to_path(state)
    context = ComponentTree.for_test().load_context
    return component.build_defs_from_state(context, state_path=state)


def test_definitions_merge_user_defs_with_two_tenants(two_tenants: str, tmp_path: Path) -> None:
    """User assets + two tenants' components merge; deps, suffixes and resources keep apart."""

    @asset(deps=[DAILY])
    def orders_report() -> None:
        """A user asset downstream of an Amperity courier group."""

    acme = _component(two_tenants, "acme", tmp_path / "s.sqlite",
                      startable={"Daily Ecommerce Sources": "cg-2Kc8nRw1Q"})
    globex = _component(two_tenants, "globex", tmp_path / "s.sqlite")
    merged = Definitions.merge(Definitions(assets=[orders_report]),
                               _defs_of(acme, tmp_path / "acme"),
                               _defs_of(globex, tmp_path / "globex"))
    graph = merged.resolve_asset_graph()
    assert DAILY in graph.get(AssetKey("orders_report")).parent_keys
    assert graph.get(DAILY).is_materializable  # startable: materializing starts it
    globex_daily = AssetKey(["amperity", "globex", "courier_groups", "daily_ecommerce_sources"])
    assert not graph.get(globex_daily).is_materializable
    tables = AssetKey(["amperity", "acme", "tables", "shopify_orders"])
    assert graph.get(tables).parent_keys == {DAILY}
    sensors = {s.name for s in merged.sensors or []}
    assert {"amperity_index_sensor_acme", "amperity_index_sensor_globex"} <= sensors
    assert {"amperity_ops_acme", "amperity_ops_globex"} <= set(merged.resources or {})
    Definitions.validate_loadable(merged)


def test_a_policy_typo_stops_at_load_naming_the_field(tmp_path: Path) -> None:
    """A typo in the policy attributes is a ConfigError naming the field and a suggestion."""
    with pytest.raises(ConfigError, match=r"policies\[0\]\.warn_afer: unknown key"):
        _component("http://127.0.0.1:1/api", "acme", tmp_path / "s.sqlite",
                   policies=[{"name": "p", "warn_afer": "1h"}])


def test_no_state_yet_loads_without_calling_the_api(tmp_path: Path) -> None:
    """Before the first refresh the component loads (unreachable API): no unit assets yet."""
    component = _component("http://127.0.0.1:1/api", "acme", tmp_path / "s.sqlite")
    defs = component.build_defs_from_state(ComponentTree.for_test().load_context, state_path=None)
    # Only the instance's own overview assets (amperity/acme/workflow_runs ...): no workflow,
    # table or index asset before the catalog is learned.
    keys = {key for a in defs.assets or [] for key in getattr(a, "keys", [getattr(a, "key", None)])}
    assert keys == {AssetKey(["amperity", "acme", n]) for n in
                    ("workflow_runs", "ingest_jobs", "segments", "campaigns", "audit_events")}
    assert "amperity_ops_acme" in (defs.resources or {})


# ---------------------------------------------------------------------------- a real dg project


def _project(root: Path, env: dict[str, str]) -> None:
    """The smallest project `dg` recognises: [tool.dg] in pyproject, a defs package."""
    package = root / "src" / "user_project"
    (package / "defs").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "user_project"\nversion = "0.1.0"\n\n'
        '[tool.dg]\ndirectory_type = "project"\n\n'
        '[tool.dg.project]\nroot_module = "user_project"\n'
        '\n[tool.dg.cli]\nsuppress_warnings = ["project_and_activated_venv_mismatch"]\n')
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(
        "from pathlib import Path\n\nimport dagster as dg\n\n\n@dg.definitions\n"
        "def defs() -> dg.Definitions:\n"
        "    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)\n")
    # The project's python is this environment (no network to build another one).
    (root / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    (root / "dagster_home").mkdir()
    (root / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")


def _dg(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(DG), *args], cwd=root, env=env, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, f"dg {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_dg_scaffold_refresh_check_and_list_in_a_fresh_project(
    two_tenants: str, tmp_path: Path
) -> None:
    """Two scaffolded instances (acme, globex): refreshed over a socket, dg check and list pass."""
    root = tmp_path / "project"
    env = {**os.environ, "DAGSTER_HOME": str(root / "dagster_home"),
           "VIRTUAL_ENV": str(root / ".venv"), "PYTHONPATH": str(root / "src"),
           "AMPERITY_BASE_URL": two_tenants, "AMPERITY_ACCESS_TOKEN": TOKEN,
           "AMPERITY_OPS_STORE_URL": f"sqlite:///{tmp_path / 'store.sqlite'}",
           "AMPERITY_RATE_LIMIT_BACKEND": "memory"}
    _project(root, env)
    for tenant in ("acme", "globex"):
        _dg(root, env, "scaffold", "defs", "amperity_ops.AmperityTenantComponent",
            f"amperity_{tenant}", "--tenant-id", tenant, "--name", tenant)
    defs_yaml = (root / "src/user_project/defs/amperity_acme/defs.yaml").read_text()
    assert "{{ env.AMPERITY_ACCESS_TOKEN }}" in defs_yaml
    assert TOKEN not in defs_yaml
    attributes = yaml.safe_load(defs_yaml)["attributes"]
    assert attributes["tenant"]["tenant_id"] == "acme"

    _dg(root, env, "utils", "refresh-defs-state")
    _dg(root, env, "check", "defs")
    listed = json.loads(_dg(root, env, "list", "defs", "--json").stdout)
    keys = {a["asset_key"] for a in listed["assets"]}
    assert "amperity/acme/courier_groups/daily_ecommerce_sources" in keys
    assert "amperity/globex/tables/shopify_orders" in keys
    assert "amperity/acme/indexes/loyalty_members" in keys
    sensors = {s["name"] for s in listed["sensors"]}
    assert {"amperity_index_sensor_acme", "amperity_index_sensor_globex"} <= sensors
