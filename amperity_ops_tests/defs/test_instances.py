"""Several build_amperity_defs instances side by side; a started run is reported once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    Definitions,
    SensorResult,
    asset,
    build_sensor_context,
    materialize,
)

from amperity_ops import build_amperity_defs
from amperity_ops.defs.start import build_startable_workflow_assets
from amperity_ops.services.catalog import refresh_catalog
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.sla_guard import run_sla_tick
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops_tests.services.helpers import TENANT, make_config

DAILY = "Daily Ecommerce Sources"
DAILY_KEY = AssetKey(["amperity", TENANT, "courier_groups", "daily_ecommerce_sources"])


def test_two_instances_merge_with_their_own_names_keys_and_resources(
    runtime: OpsRuntime, quiet_sim: Simulator, tmp_path: Path
) -> None:
    """Two suffixed instances and user assets merge; nothing of one is named as the other's."""
    quiet_sim.tenant(TENANT).add_run(name=DAILY, type="courier.group/run", state="succeeded",
                                     started_ago=timedelta(hours=3), ended_ago=timedelta(hours=2))
    refresh_catalog(runtime, days=1, catalog_dir=tmp_path)

    @asset(deps=[DAILY_KEY])
    def report() -> None:
        """A user asset downstream of Amperity."""

    other = make_config(tenants=[{"name": "globex", "tenant_id": "globex",
                                  "access_token": "x", "base_url": "http://127.0.0.1:1/api"}])
    a = build_amperity_defs(config=runtime.config, catalog_dir=str(tmp_path), name_suffix="_a")
    b = build_amperity_defs(config=other, catalog_dir=str(tmp_path), name_suffix="_b")
    merged = Definitions.merge(Definitions(assets=[report]), a, b)
    Definitions.validate_loadable(merged)
    assert {"amperity_ops_a", "amperity_ops_b"} == set(merged.resources or {})
    sensors = {s.name for s in merged.sensors or []}
    for sfx in ("_a", "_b"):
        assert {f"amperity_workflow_sla_sensor{sfx}", f"amperity_ingest_sensor{sfx}",
                f"amperity_asset_events_sensor{sfx}"} <= sensors
        for job in ("stop_amperity_workflow_run", "silence_amperity_alerts", "amperity_poll_job"):
            assert merged.resolve_job_def(f"{job}{sfx}").resource_defs.keys() >= {
                f"amperity_ops{sfx}"}
    graph = merged.resolve_asset_graph()
    for name in ("a", "b"):
        assert graph.has(AssetKey(["amperity", name, "workflow_runs"]))
    assert not graph.has(AssetKey(["amperity", "workflow_runs"]))
    assert DAILY_KEY in graph.get(AssetKey("report")).parent_keys


def test_without_a_suffix_the_names_are_the_plain_ones(runtime: OpsRuntime, tmp_path: Path) -> None:
    """No suffix: resource amperity_ops, amperity/workflow_runs, the plain sensor and job names."""
    defs = build_amperity_defs(config=runtime.config, catalog_dir=str(tmp_path))
    assert set(defs.resources or {}) == {"amperity_ops"}
    graph = defs.resolve_asset_graph()
    assert graph.has(AssetKey(["amperity", "workflow_runs"]))
    defs.resolve_sensor_def("amperity_workflow_sla_sensor")
    defs.resolve_job_def("stop_amperity_workflow_run")


def test_a_run_started_from_dagster_is_not_materialized_again_by_the_event_sensor(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    """The start asset materializes the run; the event sensor reports its checks, not a 2nd."""
    runtime.monotonic = lambda: clock.now().timestamp()
    runtime.config = make_config(start={"poll_interval": "60s", "timeout": "3h"},
                                 startable={DAILY: "cg-2Kc8nRw1Q"})
    quiet_sim.tenant(TENANT).add_run(name=DAILY, type="courier.group/run", state="succeeded",
                                     started_ago=timedelta(days=1, hours=3),
                                     ended_ago=timedelta(days=1, hours=2))
    refresh_catalog(runtime, days=3, catalog_dir=tmp_path)
    defs = build_amperity_defs(config=runtime.config, catalog_dir=str(tmp_path))
    graph = defs.resolve_asset_graph()
    assert graph.get(DAILY_KEY).is_materializable
    sensor = defs.resolve_sensor_def("amperity_asset_events_sensor")
    with DagsterInstance.ephemeral() as instance:

        def tick() -> list[object]:
            clock.advance(timedelta(minutes=1))
            run_sla_tick(runtime, now=runtime.clock(), budget_s=30, deliver=False)
            with build_sensor_context(instance=instance,
                                      resources={"amperity_ops": runtime}) as ctx:
                result = sensor(ctx)
            assert isinstance(result, SensorResult)
            return list(result.asset_events or [])

        tick()  # the earlier run: reported as this fresh asset's latest
        # The same op the factory wires, bound to the test's runtime (simulated clock).
        started = materialize(build_startable_workflow_assets(TENANT, runtime.config.startable),
                              resources={"amperity_ops": runtime}, instance=instance)
        assert started.success
        [mat] = started.asset_materializations_for_node(started.all_node_events[0].node_name)
        run_id = str(mat.metadata["amperity_run_id"].value)
        events = tick()
    assert not [e for e in events if isinstance(e, AssetMaterialization)
                and e.asset_key == DAILY_KEY]
    checks = [e for e in events if isinstance(e, AssetCheckEvaluation)
              and e.check_name == "last_run_succeeded"]
    assert checks
    assert all(c.passed for c in checks)
    assert any(run_id in (c.description or "") for c in checks)


def test_the_daemon_path_finds_each_sensors_resource_plain_and_suffixed(
    runtime: OpsRuntime, quiet_sim: Simulator, tmp_path: Path
) -> None:
    """evaluate_tick (as the daemon calls it, resources on the context only) runs every sensor."""
    quiet_sim.tenant(TENANT).add_run(name=DAILY, type="courier.group/run", state="succeeded",
                                     started_ago=timedelta(hours=3), ended_ago=timedelta(hours=2))
    refresh_catalog(runtime, days=1, catalog_dir=tmp_path)
    runtime.config = make_config(indexes={"canaries": [
        {"name": "member", "index": "loyalty_members", "filter": {"loyalty_id": "1"}}]})
    for sfx in ("", "_a"):
        defs = build_amperity_defs(config=runtime.config, catalog_dir=str(tmp_path),
                                   name_suffix=sfx)
        for sensor in defs.sensors or []:
            with DagsterInstance.ephemeral() as instance, build_sensor_context(
                    instance=instance, resources={f"amperity_ops{sfx}": runtime}) as ctx:
                data = sensor.evaluate_tick(ctx)  # raises if the resource is not found
            assert data is not None, sensor.name


@pytest.mark.parametrize(("sensor_block", "sla_s", "ingest_s"),
                         [(None, 60, 120), ({"interval": "15s", "time_budget": "10s",
                                             "tenant_timeout": "5s"}, 15, 30)])
def test_the_policy_files_sensor_interval_is_the_one_dagster_uses(
    runtime: OpsRuntime, quiet_sim: Simulator, tmp_path: Path,
    sensor_block: dict[str, str] | None, sla_s: int, ingest_s: int,
) -> None:
    """sensor.interval, read at load, is each sensor's minimum interval; the daemon path works."""
    config = make_config(**({"sensor": sensor_block} if sensor_block else {}))
    defs = build_amperity_defs(config=config, catalog_dir=str(tmp_path))
    sla = defs.resolve_sensor_def("amperity_workflow_sla_sensor")
    ingest = defs.resolve_sensor_def("amperity_ingest_sensor")
    assert (sla.minimum_interval_seconds, ingest.minimum_interval_seconds) == (sla_s, ingest_s)
    runtime.config = config
    for sensor in (sla, ingest):
        with DagsterInstance.ephemeral() as instance, build_sensor_context(
                instance=instance, resources={"amperity_ops": runtime}) as ctx:
            assert sensor.evaluate_tick(ctx) is not None  # the plain resource key is found
