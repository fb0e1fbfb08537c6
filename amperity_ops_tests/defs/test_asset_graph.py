"""The Amperity asset graph over the simulator: catalog -> specs, runless events, checks, eager.

Events go from the asset event sensor into a real (ephemeral) Dagster instance with
``report_runless_asset_event``, as the daemon does with a ``SensorResult``'s ``asset_events``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetKey,
    AssetMaterialization,
    AutomationCondition,
    DagsterInstance,
    Definitions,
    SensorResult,
    asset,
    build_sensor_context,
    evaluate_automation_conditions,
)

from amperity_ops import AmperityTranslation, AmperityTranslator, build_amperity_defs
from amperity_ops.services.catalog import read_catalog, refresh_catalog
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.sla_guard import run_sla_tick
from amperity_ops.simulator import IN_PROCESS_BASE_URL, ManualClock, Simulator, TenantSpec
from amperity_ops_tests.services.helpers import TENANT, TOKEN, make_config, make_runtime

COURIER = "Courier Group A"
COURIER_KEY = AssetKey(["amperity", "acme", "courier_groups", "courier_group_a"])
ORDERS_KEY = AssetKey(["amperity", "acme", "tables", "orders"])


def _defs(runtime: OpsRuntime, catalog_dir: Path, **kwargs: Any) -> Definitions:
    return build_amperity_defs(config=runtime.config, catalog_dir=str(catalog_dir), **kwargs)


def _tick(defs: Definitions, runtime: OpsRuntime, instance: DagsterInstance) -> list[Any]:
    """One asset-event tick, its events written to the instance; returns the events."""
    sensor = defs.resolve_sensor_def("amperity_asset_events_sensor")
    with build_sensor_context(instance=instance, resources={"amperity_ops": runtime}) as ctx:
        result = sensor(ctx)
    assert isinstance(result, SensorResult)
    events = list(result.asset_events or [])
    for event in events:
        instance.report_runless_asset_event(event)
    return events


def _materialized(events: list[Any]) -> list[str]:
    return [str(e.metadata["amperity_run_id"].value) for e in events
            if isinstance(e, AssetMaterialization) and e.asset_key == COURIER_KEY]


def _checks(events: list[Any], name: str) -> list[AssetCheckEvaluation]:
    return [e for e in events if isinstance(e, AssetCheckEvaluation) and e.check_name == name]


def _end_runs(runtime: OpsRuntime, clock: ManualClock) -> None:
    """The SLA sensor's tick: what stores the runs that ended (the event tick's source)."""
    clock.advance(timedelta(minutes=1))
    run_sla_tick(runtime, now=runtime.clock(), budget_s=30, deliver=False)


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    """A private catalog directory."""
    return tmp_path / "catalog"


def test_catalog_refresh_learns_workflows_tables_and_lineage(
    runtime: OpsRuntime, quiet_sim: Simulator, catalog_dir: Path
) -> None:
    """The catalog names the workflow, its table, and the table's dep on the workflow."""
    world = quiet_sim.tenant(TENANT)
    world.add_run(name=COURIER, state="succeeded", started_ago=timedelta(hours=2),
                  ended_ago=timedelta(hours=1), ingest_tables=("Orders",))
    [catalog] = refresh_catalog(runtime, days=2, catalog_dir=catalog_dir).values()
    assert read_catalog(catalog_dir, TENANT) == catalog
    workflow = catalog.workflow(COURIER)
    assert workflow is not None
    assert workflow.tables == ["Orders"]
    assert [(t.name, t.loaded_by) for t in catalog.tables] == [("Orders", [COURIER])]
    specs = {s.key: s for s in _defs(runtime, catalog_dir).resolve_all_asset_specs()}
    assert [d.asset_key for d in specs[ORDERS_KEY].deps] == [COURIER_KEY]
    spec = specs[COURIER_KEY]
    assert spec.kinds == {"amperity"}
    text = spec.description or ""
    for fragment in ("Courier Group A", "policy `courier-groups`", "max 2h", "succeeded",
                     "https://acme.amperity.example/#/workflows/"):
        assert fragment in text


def test_without_a_catalog_the_location_loads_and_says_how_to_refresh(
    runtime: OpsRuntime, catalog_dir: Path
) -> None:
    """No catalog yet: the overview assets load and the event sensor names the command."""
    defs = _defs(runtime, catalog_dir)
    assert len(list(defs.resolve_all_asset_specs())) == 5
    sensor = defs.resolve_sensor_def("amperity_asset_events_sensor")
    assert "run `amperity-ops catalog refresh`" in (sensor.description or "")


def test_a_fresh_store_reports_only_the_latest_finished_run_and_a_restart_nothing_twice(
    quiet_sim: Simulator, clock: ManualClock, store_url: str, catalog_dir: Path
) -> None:
    """First tick: the latest run only; after a restart each new run is reported once."""
    world = quiet_sim.tenant(TENANT)
    world.add_run(name=COURIER, state="succeeded", started_ago=timedelta(hours=30),
                  ended_ago=timedelta(hours=29), ingest_tables=())
    latest = world.add_run(name=COURIER, state="succeeded", started_ago=timedelta(hours=6),
                           ended_ago=timedelta(hours=5), ingest_tables=())
    runtime = make_runtime(quiet_sim, clock, store_url)
    refresh_catalog(runtime, days=3, catalog_dir=catalog_dir)
    defs = _defs(runtime, catalog_dir)
    with DagsterInstance.ephemeral() as instance:
        assert _materialized(_tick(defs, runtime, instance)) == [latest.id]
        assert _tick(defs, runtime, instance) == []

        new = world.add_run(name=COURIER, state="running", started_ago=timedelta(minutes=5),
                            finishes_in=timedelta(minutes=1), ingest_tables=())
        clock.advance(timedelta(minutes=2))
        _end_runs(runtime, clock)
        runtime.close()
        restarted = make_runtime(quiet_sim, clock, store_url)  # a new process, same store
        assert _materialized(_tick(defs, restarted, instance)) == [new.id]
        again = make_runtime(quiet_sim, clock, store_url)
        assert _tick(defs, again, instance) == []
        event = instance.get_latest_materialization_event(COURIER_KEY)
        assert event is not None
        assert event.asset_materialization is not None
        assert event.asset_materialization.metadata["amperity_run_id"].value == new.id


@pytest.mark.parametrize(("state", "error"), [("failed", "platform"), ("stopped", None)])
def test_a_failed_or_stopped_run_never_materializes_and_its_check_goes_red(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock, catalog_dir: Path,
    state: str, error: str | None,
) -> None:
    """Only check evaluations: last_run_succeeded fails with the error and its attribution."""
    world = quiet_sim.tenant(TENANT)
    ok = world.add_run(name=COURIER, state="succeeded", started_ago=timedelta(hours=6),
                       ended_ago=timedelta(hours=5), ingest_tables=())
    refresh_catalog(runtime, days=1, catalog_dir=catalog_dir)
    defs = _defs(runtime, catalog_dir)
    with DagsterInstance.ephemeral() as instance:
        assert _materialized(_tick(defs, runtime, instance)) == [ok.id]
        bad = world.add_run(name=COURIER, state=state, error=error,
                            started_ago=timedelta(minutes=30), ended_ago=timedelta(seconds=10),
                            ingest_tables=())
        _end_runs(runtime, clock)
        events = _tick(defs, runtime, instance)
        assert _materialized(events) == []
        [check] = _checks(events, "last_run_succeeded")
        assert not check.passed
        assert bad.id in (check.description or "")
        if error:
            assert check.metadata["attribution"].value == "platform"
            assert "(platform)" in (check.description or "")
        latest = instance.get_latest_materialization_event(COURIER_KEY)
        assert latest is not None
        assert latest.asset_materialization is not None
        assert latest.asset_materialization.metadata["amperity_run_id"].value == ok.id


def test_a_run_in_flight_reports_within_sla_once_per_level(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock, catalog_dir: Path
) -> None:
    """within_sla: passes while ok, WARN past 90m, ERROR past 2h; each level once."""
    world = quiet_sim.tenant(TENANT)
    world.add_run(name=COURIER, state="succeeded", started_ago=timedelta(hours=6),
                  ended_ago=timedelta(hours=5), ingest_tables=())
    refresh_catalog(runtime, days=1, catalog_dir=catalog_dir)
    defs = _defs(runtime, catalog_dir)
    with DagsterInstance.ephemeral() as instance:
        _tick(defs, runtime, instance)
        world.add_run(name=COURIER, started_ago=timedelta(minutes=80), ingest_tables=())
        _end_runs(runtime, clock)
        levels = []
        for _ in range(3):
            [check] = _checks(_tick(defs, runtime, instance), "within_sla") or [None]
            levels.append(None if check is None else (check.passed, check.severity.value))
            clock.advance(timedelta(minutes=25))
            _end_runs(runtime, clock)
        assert levels == [(True, "ERROR"), (False, "WARN"), (False, "ERROR")]
        assert _checks(_tick(defs, runtime, instance), "within_sla") == []  # told once


def test_a_feed_that_loaded_a_table_materializes_it_with_row_counts(
    runtime: OpsRuntime, quiet_sim: Simulator, catalog_dir: Path
) -> None:
    """The table's materialization carries rows read/inserted/updated/rejected/errors as ints."""
    quiet_sim.tenant(TENANT).add_run(name=COURIER, state="succeeded",
                                     started_ago=timedelta(hours=2),
                                     ended_ago=timedelta(hours=1), ingest_tables=("Orders",))
    refresh_catalog(runtime, days=1, catalog_dir=catalog_dir)
    with DagsterInstance.ephemeral() as instance:
        events = _tick(_defs(runtime, catalog_dir), runtime, instance)
        [load] = [e for e in events
                  if isinstance(e, AssetMaterialization) and e.asset_key == ORDERS_KEY]
        for name in ("rows_read", "rows_inserted", "rows_updated", "rows_rejected", "errors"):
            assert isinstance(load.metadata[name].value, int), name
        assert load.metadata["rows_read"].value > 0


def test_two_tenants_with_the_same_workflows_never_collide(
    clock: ManualClock, store_url: str, catalog_dir: Path
) -> None:
    """Each tenant's keys carry its name; the same workflow names give two sets of assets."""
    sim = Simulator([TenantSpec(tenant_id=t, static_tokens=(TOKEN,), seed=7, schedules=False)
                     for t in ("acme", "beta-sb")], clock=clock, rate_limit_rps=None)
    config = make_config(tenants=[
        {"name": t, "tenant_id": t, "base_url": IN_PROCESS_BASE_URL, "access_token": TOKEN}
        for t in ("acme", "beta-sb")])
    runtime = make_runtime(sim, clock, store_url, config)
    for tenant in ("acme", "beta-sb"):
        sim.tenant(tenant).add_run(name=COURIER, state="succeeded", started_ago=timedelta(hours=2),
                                   ended_ago=timedelta(hours=1), ingest_tables=("Orders",))
    refresh_catalog(runtime, days=1, catalog_dir=catalog_dir)
    defs = _defs(runtime, catalog_dir)
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    for slug in ("acme", "beta_sb"):
        assert f"amperity/{slug}/courier_groups/courier_group_a" in keys
        assert f"amperity/{slug}/tables/orders" in keys
    with DagsterInstance.ephemeral() as instance:
        events = _tick(defs, runtime, instance)
    materialized = {e.asset_key.to_user_string() for e in events
                    if isinstance(e, AssetMaterialization)}
    assert len(materialized) == 4


def test_translation_overrides_keys_group_owners_tags_descriptions_and_deps(
    runtime: OpsRuntime, quiet_sim: Simulator, catalog_dir: Path
) -> None:
    """The YAML-able translation changes what Dagster shows, and the events follow its keys."""
    quiet_sim.tenant(TENANT).add_run(name=COURIER, state="succeeded",
                                     started_ago=timedelta(hours=2),
                                     ended_ago=timedelta(hours=1), ingest_tables=())
    refresh_catalog(runtime, days=1, catalog_dir=catalog_dir)
    translation = AmperityTranslation.model_validate({
        "keys": {COURIER: "dbt_sources/amperity/courier_a"}, "group": "cdp",
        "owners": ["team:cdp"], "tags": {"domain": "cdp"},
        "descriptions": {COURIER: "Feeds the nightly dbt run."},
        "deps": {COURIER: ["raw/shopify_export"]},
    })
    defs = _defs(runtime, catalog_dir, translator=AmperityTranslator(translation))
    key = AssetKey(["dbt_sources", "amperity", "courier_a"])
    spec = {s.key: s for s in defs.resolve_all_asset_specs()}[key]
    assert (spec.group_name, spec.owners) == ("cdp", ["team:cdp"])
    assert spec.tags["domain"] == "cdp"
    assert (spec.description or "").startswith("Feeds the nightly dbt run.")
    assert [d.asset_key for d in spec.deps] == [AssetKey(["raw", "shopify_export"])]
    with DagsterInstance.ephemeral() as instance:
        events = _tick(defs, runtime, instance)
    assert {e.asset_key for e in events} == {key}


def test_name_suffix_renames_every_sensor_job_and_schedule(
    runtime: OpsRuntime, catalog_dir: Path
) -> None:
    """With name_suffix, names get it and the SLA sensor targets the renamed stop job."""
    defs = _defs(runtime, catalog_dir, name_suffix="_prod")
    for name in ("amperity_workflow_sla_sensor_prod", "amperity_ingest_sensor_prod",
                 "amperity_asset_events_sensor_prod"):
        defs.resolve_sensor_def(name)
    for name in ("stop_amperity_workflow_run_prod", "stop_amperity_workflow_runs_prod",
                 "amperity_poll_job_prod", "amperity_inventory_job_prod"):
        defs.resolve_job_def(name)
    for name in ("amperity_poll_schedule_prod", "amperity_inventory_schedule_prod"):
        defs.resolve_schedule_def(name)
    sla = defs.resolve_sensor_def("amperity_workflow_sla_sensor_prod")
    assert [t.job_name for t in sla.targets] == ["stop_amperity_workflow_run_prod",
                                                "stop_amperity_workflow_runs_prod"]


def test_a_suffixed_sla_sensor_requests_the_suffixed_stop_job(
    runtime: OpsRuntime, quiet_sim: Simulator, catalog_dir: Path
) -> None:
    """The renamed SLA sensor's stop request names the renamed job."""
    quiet_sim.tenant(TENANT).add_run(name=COURIER, started_ago=timedelta(hours=3))
    sla = _defs(runtime, catalog_dir, name_suffix="_prod").resolve_sensor_def(
        "amperity_workflow_sla_sensor_prod")
    with build_sensor_context(resources={"amperity_ops_prod": runtime}) as ctx:
        result = sla(ctx)
    assert isinstance(result, SensorResult)
    [request] = result.run_requests or []
    assert request.job_name == "stop_amperity_workflow_run_prod"


def test_an_eager_downstream_asset_runs_once_after_success_never_after_failure_or_stop(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock, catalog_dir: Path
) -> None:
    """AutomationCondition.eager(): one request per success, none for failed or stopped."""
    world = quiet_sim.tenant(TENANT)
    world.add_run(name="Nightly", type="orchestration.group/run", state="failed",
                  started_ago=timedelta(hours=6), ended_ago=timedelta(hours=5))
    refresh_catalog(runtime, days=1, catalog_dir=catalog_dir)
    upstream = AssetKey(["amperity", "acme", "orchestration_groups", "nightly"])

    @asset(deps=[upstream], automation_condition=AutomationCondition.eager())
    def customer_report() -> None:
        """A user's asset built from Amperity's output."""

    defs = Definitions.merge(Definitions(assets=[customer_report]), _defs(runtime, catalog_dir))
    target = AssetKey(["customer_report"])
    with DagsterInstance.ephemeral() as instance:
        cursor = None

        def requested_after(state: str | None) -> int:
            nonlocal cursor
            if state is not None:
                world.add_run(name="Nightly", type="orchestration.group/run", state=state,
                              started_ago=timedelta(minutes=30), ended_ago=timedelta(seconds=5))
                _end_runs(runtime, clock)
                _tick(defs, runtime, instance)
            result = evaluate_automation_conditions(defs=defs, instance=instance,
                                                    cursor=cursor)
            cursor = result.cursor
            return result.get_num_requested(target)

        assert _tick(defs, runtime, instance)  # the first (failed) run: checks only
        assert requested_after(None) == 0
        assert requested_after("succeeded") == 1
        assert requested_after(None) == 0
        assert requested_after("failed") == 0
        assert requested_after("stopped") == 0
        assert requested_after("succeeded") == 1
