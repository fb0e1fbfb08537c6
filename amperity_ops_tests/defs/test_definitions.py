"""The code location loads, offline and without AMPERITY_* variables, with its public names."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, DefaultScheduleStatus, DefaultSensorStatus

from amperity_ops.definitions import defs
from amperity_ops.simulator import Simulator
from amperity_ops_tests.conftest import TENANT, TOKEN

REPO = Path(__file__).resolve().parents[2]


def test_every_definition_resolves_with_its_public_name() -> None:
    """Jobs, schedules, sensors, assets and checks resolve under the names users rely on."""
    stop_job = defs.resolve_job_def("stop_amperity_workflow_run")
    assert stop_job.tags.get("amperity-ops/job") == "stop"
    for name in ("amperity_poll_job", "amperity_inventory_job"):
        assert defs.resolve_job_def(name).name == name
    poll = defs.resolve_schedule_def("amperity_poll_schedule")
    assert poll.default_status is DefaultScheduleStatus.RUNNING
    assert poll.job_name == "amperity_poll_job"
    sla = defs.resolve_sensor_def("amperity_workflow_sla_sensor")
    assert sla.minimum_interval_seconds == 60
    assert sla.default_status is DefaultSensorStatus.RUNNING
    assert [t.job_name for t in sla.targets] == ["stop_amperity_workflow_run",
                                                "stop_amperity_workflow_runs"]
    defs.resolve_sensor_def("amperity_ingest_sensor")
    defs.resolve_schedule_def("amperity_inventory_schedule")
    keys = set(defs.resolve_all_asset_keys())
    assert {
        AssetKey(["amperity", n])
        for n in ("workflow_runs", "ingest_jobs", "segments", "campaigns", "audit_events")
    } <= keys
    graph = defs.resolve_asset_graph()
    checks = {k.name for k in graph.asset_check_keys}
    assert {
        "runs_within_sla",
        "no_failed_runs_in_window",
        "all_tenants_polled",
        "ingest_error_rate_within_threshold",
        "ingest_reject_rate_within_threshold",
        "no_failed_feeds",
    } <= checks
    all_jobs = {j.name for j in defs.resolve_all_job_defs()}
    assert "stop_amperity_workflow_run" in all_jobs


def test_stop_job_config_requires_workflow_id_and_reason() -> None:
    """The Launchpad shows workflow_id and reason as required, tenant and dry_run optional."""
    job = defs.resolve_job_def("stop_amperity_workflow_run")
    fields = (
        job.run_config_schema.config_type.fields["ops"]
        .config_type.fields[  # type: ignore[attr-defined]
            "stop_workflow_run"
        ]
        .config_type.fields["config"]
        .config_type.fields
    )
    assert fields["workflow_id"].is_required
    assert fields["reason"].is_required
    assert not fields["tenant"].is_required
    assert not fields["dry_run"].is_required


@pytest.mark.slow
def test_dagster_validates_the_workspace_in_a_bare_environment(tmp_path: Path) -> None:
    """`dagster definitions validate` passes with no AMPERITY_* variable and no network."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path),
    }
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful" in done.stdout + done.stderr


@pytest.mark.slow
def test_loading_the_code_location_leaves_the_store_and_simulator_unimported() -> None:
    """Loading `defs` imports neither SQLAlchemy (the store) nor the simulator: load stays fast."""
    probe = (
        "import sys, amperity_ops.definitions; "
        "print(sorted(m for m in ('sqlalchemy', 'amperity_ops.store', 'amperity_ops.simulator',"
        " 'starlette') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@contextmanager
def _started(config: dict[str, Any]) -> Iterator[Any]:
    """The code location's amperity_ops resource started with run config (errors unwrapped)."""
    from dagster import build_init_resource_context

    from amperity_ops.defs.resources import amperity_ops_resource

    context = build_init_resource_context(config=config)
    with amperity_ops_resource.from_resource_context_cm(context) as runtime:
        yield runtime


def test_resource_reads_the_policy_file_and_opens_the_store(tmp_path: Path) -> None:
    """The amperity_ops resource yields an OpsRuntime from its config, making no API call."""
    from amperity_ops.services.runtime import OpsRuntime

    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "tenants:\n  - {name: prod, tenant_id: acme, access_token: {env: NOT_SET_ANYWHERE}}\n"
        "  - {name: sandbox, tenant_id: acme-sb-1, access_token: {env: NOT_SET_EITHER}}\n"
    )
    config = {"config_path": str(policy), "store_url": f"sqlite:///{tmp_path / 's.sqlite'}"}
    with _started(config) as runtime:
        assert isinstance(runtime, OpsRuntime)
        assert [t.name for t in runtime.tenants] == ["prod", "sandbox"]
        assert runtime.tenant("acme-sb-1").name == "sandbox"
        assert runtime.store.count_runs("prod") == 0


def test_resource_names_a_broken_policy_file(tmp_path: Path) -> None:
    """A policy file with a typo fails resource start-up with the file and the field named."""
    from amperity_ops.settings import ConfigError

    policy = tmp_path / "policy.yaml"
    policy.write_text("auto_stop: {enabeld: true}\ntenants: [{tenant_id: acme, access_token: x}]\n")
    config = {"config_path": str(policy), "store_url": f"sqlite:///{tmp_path / 's.sqlite'}"}
    with (
        pytest.raises(ConfigError, match=r"policy.yaml: auto_stop.enabeld: unknown key"),
        _started(config),
    ):
        pass


def test_every_asset_has_a_description_owner_kind_and_group() -> None:
    """The UI shows each asset with a description, an owning team, its kind and its group."""
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    assert len(specs) == 5
    for key, spec in specs.items():
        assert len(spec.description or "") > 40, key
        assert spec.owners == ["team:data-platform"], key
        assert spec.kinds == {"amperity"}, key
        assert spec.group_name == "amperity", key
    for name in ("amperity_workflow_sla_sensor", "amperity_ingest_sensor"):
        assert defs.resolve_sensor_def(name).description
    assert defs.resolve_job_def("stop_amperity_workflow_run").description


def test_the_wired_resource_is_configurable_with_described_fields() -> None:
    """amperity_ops is a ConfigurableResourceFactory; config_path and store_url are described."""
    from dagster._config.pythonic_config import ConfigurableResourceFactory

    from amperity_ops.defs.resources import AmperityOpsResource, amperity_ops_resource

    assert isinstance(amperity_ops_resource, ConfigurableResourceFactory)
    fields = AmperityOpsResource.model_fields
    assert set(fields) == {"config_path", "store_url", "tenant"}
    assert all(len(field.description or "") > 40 for field in fields.values())
    schema = amperity_ops_resource.get_resource_definition().config_schema
    assert {"config_path", "store_url"} <= set(schema.as_field().config_type.fields)


def test_the_resource_releases_the_store_when_the_run_ends(tmp_path: Path) -> None:
    """The store's pooled connections are released when the run (or tick) ends."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("tenants: [{tenant_id: acme, access_token: {env: NOT_SET_ANYWHERE}}]\n")
    config = {"config_path": str(policy), "store_url": f"sqlite:///{tmp_path / 's.sqlite'}"}
    with _started(config) as runtime:
        runtime.store.count_runs("acme")
        pool = runtime.store.engine.pool
        assert pool.checkedin() == 1  # the connection waits in the pool while the run lasts
    assert runtime.store.engine.pool.checkedin() == 0


def test_a_tenant_given_to_the_resource_runs_an_asset_with_envvar_secrets(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tenant=AmperityResource(EnvVar...) defines the tenant at run start, not at load."""
    from dagster import Definitions, EnvVar, materialize

    from amperity_ops.defs.assets import workflow_runs
    from amperity_ops.defs.resources import AmperityOpsResource
    from amperity_ops.resources import AmperityResource

    def wired(base_url: str) -> AmperityOpsResource:
        return AmperityOpsResource(
            store_url=f"sqlite:///{tmp_path / 's.sqlite'}",
            tenant=AmperityResource(tenant_id=TENANT, base_url=base_url,
                                    access_token=EnvVar("AO_TEST_TOKEN"),
                                    rate_limit_backend="memory"),
        )

    for name in ("AMPERITY_OPS_CONFIG", "AMPERITY_TENANT_ID", "AMPERITY_TENANT", "AO_TEST_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    # Loading needs neither the variable nor the network.
    resources = {"amperity_ops": wired("http://127.0.0.1:9/api")}
    Definitions(assets=[workflow_runs], resources=resources).get_repository_def()
    sim.tenant(TENANT).add_run(name="Courier Group A", state="running")
    monkeypatch.setenv("AO_TEST_TOKEN", TOKEN)
    with sim.serve() as base_url:
        result = materialize([workflow_runs], resources={"amperity_ops": wired(base_url)})
    assert result.success
    assert sim.request_log(TENANT).count("/api/workflow/runs", status=200) >= 1
    logs = "\n".join(str(e) for e in result.all_events)
    assert TOKEN not in logs


def test_a_tenant_given_beside_a_tenants_list_is_refused(tmp_path: Path) -> None:
    """The policy file's tenants and the resource's tenant together are a ConfigError."""
    from dagster import build_init_resource_context

    from amperity_ops.defs.resources import AmperityOpsResource
    from amperity_ops.resources import AmperityResource
    from amperity_ops.settings import ConfigError

    policy = tmp_path / "policy.yaml"
    policy.write_text("tenants: [{tenant_id: acme, access_token: x}]\n")
    resource = AmperityOpsResource(
        config_path=str(policy), store_url=f"sqlite:///{tmp_path / 's.sqlite'}",
        tenant=AmperityResource(tenant_id="other", access_token="y"),
    )
    with pytest.raises(ConfigError, match=r"policy\.yaml: tenants: the file lists tenants"):
        resource.create_resource(build_init_resource_context())


def test_each_code_location_module_holds_one_definitions_object() -> None:
    """`-m amperity_ops.definitions` (no attribute) loads: one Definitions per module."""
    import importlib

    import dagster as dg

    for name in ("amperity_ops.definitions", "amperity_ops.polling_definitions"):
        module = importlib.import_module(name)
        found = [k for k, v in vars(module).items() if isinstance(v, dg.Definitions)]
        assert found == ["defs"], f"{name}: {found}"
