"""Polling assets (metadata, checks) and the stop job, executed in-process over the simulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dagster import AssetKey, DagsterInstance, materialize

from amperity_ops.defs.assets import (
    audit_events,
    campaigns,
    ingest_jobs,
    segments,
    workflow_runs,
)
from amperity_ops.defs.jobs import stop_amperity_workflow_run, stop_run_config
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops_tests.services.helpers import TENANT

RUNS = AssetKey(["amperity", "workflow_runs"])


def _metadata(result: Any, key: AssetKey) -> dict[str, Any]:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _checks(result: Any) -> dict[str, Any]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_workflow_runs_metadata_and_checks(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """Counts, the active-runs table with SLA and link, failures, and red checks with reasons."""
    world = quiet_sim.tenant(TENANT)
    breached = world.add_run(name="Courier Group Late", started_ago=timedelta(hours=3))
    world.add_run(name="Courier Group Fine", started_ago=timedelta(minutes=10))
    world.add_run(
        name="Courier Group Done",
        state="succeeded",
        started_ago=timedelta(hours=2),
        ended_ago=timedelta(hours=1),
    )
    failed = world.add_run(
        name="Nightly Load",
        state="failed",
        started_ago=timedelta(hours=2),
        ended_ago=timedelta(minutes=30),
        error="customer",
    )
    result = materialize([workflow_runs], resources={"amperity_ops": runtime})
    assert result.success
    meta = _metadata(result, RUNS)
    assert (meta["active"], meta["breached"], meta["failed"]) == (2, 1, 1)
    assert meta["p95_runtime_minutes"] == 60.0
    table = meta["active_runs"]
    assert "BREACHED" in table
    assert breached.id in table
    assert "3h 00m" in table
    assert f"https://acme.amperity.example/#/workflows/{breached.id}" in table
    assert "policy:courier-groups" in table
    assert failed.id in meta["failures"]
    assert "customer" in meta["failures"].lower()
    assert "| running | 2 |" in meta["counts_by_state"]
    checks = _checks(result)
    assert not checks["runs_within_sla"].passed
    assert "Courier Group Late" in (checks["runs_within_sla"].description or "")
    assert not checks["no_failed_runs_in_window"].passed
    assert checks["all_tenants_polled"].passed


def test_ingest_jobs_checks_go_red_over_thresholds(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """A feed with 20 % errors fails the error-rate check and shows in the feed table."""
    job = quiet_sim.tenant(TENANT).add_ingest_job(tables=("Orders",))
    feed = job.feeds[0]
    feed.read, feed.errors, feed.rejected, feed.state = 1_000, 200, 0, "succeeded"
    clock.advance(timedelta(minutes=1))
    result = materialize([ingest_jobs], resources={"amperity_ops": runtime})
    meta = _metadata(result, AssetKey(["amperity", "ingest_jobs"]))
    assert meta["unhealthy_feeds"] == 1
    assert meta["error_rate_percent"] == 20.0
    assert "Orders" in meta["feed_table"]
    checks = _checks(result)
    assert not checks["ingest_error_rate_within_threshold"].passed
    assert checks["ingest_reject_rate_within_threshold"].passed
    assert checks["no_failed_feeds"].passed


def test_inventory_assets_materialize(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """Segments, campaigns with drafts, and audit events materialize from the simulator."""
    world = quiet_sim.tenant(TENANT)
    world.stop_run(world.add_run(name="Courier Group A").id)  # leaves an audit event
    clock.advance(timedelta(seconds=1))  # audit windows end (exclusively) at "now"
    result = materialize([segments, campaigns, audit_events], resources={"amperity_ops": runtime})
    assert result.success
    seg = _metadata(result, AssetKey(["amperity", "segments"]))
    camp = _metadata(result, AssetKey(["amperity", "campaigns"]))
    audit = _metadata(result, AssetKey(["amperity", "audit_events"]))
    assert seg["segments"] > 0
    assert camp["campaigns"] > 0
    assert "drafts" in camp
    assert audit["events"] >= 1
    assert "workflow/stopped" in audit["by_type"]


def test_second_poll_is_incremental(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """Materializing again after 5 minutes lists one page of runs, not the history."""
    quiet_sim.tenant(TENANT).add_history(5_000, active=3, days=60)
    instance = DagsterInstance.ephemeral()
    materialize([workflow_runs], resources={"amperity_ops": runtime}, instance=instance)
    clock.advance(timedelta(minutes=5))
    log = quiet_sim.request_log(TENANT)
    log.reset()
    materialize([workflow_runs], resources={"amperity_ops": runtime}, instance=instance)
    assert log.count("/api/workflow/runs", method="GET") == 1
    assert log.total == 1


def _run_stop_job(runtime: OpsRuntime, workflow_id: str, **extra: Any) -> Any:
    config = stop_run_config(
        workflow_id=workflow_id,
        reason=extra.pop("reason", "stuck since midnight"),
        tenant=extra.pop("tenant", None),
        requested_by=extra.pop("requested_by", None),  # type: ignore[arg-type]
        dry_run=extra.pop("dry_run", False),
    )
    config["ops"]["stop_workflow_run"]["config"].update(poll_interval_seconds=5.0)
    if config["ops"]["stop_workflow_run"]["config"]["requested_by"] is None:
        del config["ops"]["stop_workflow_run"]["config"]["requested_by"]
    if config["ops"]["stop_workflow_run"]["config"]["tenant"] is None:
        del config["ops"]["stop_workflow_run"]["config"]["tenant"]
    return stop_amperity_workflow_run.execute_in_process(
        run_config=config, resources={"amperity_ops": runtime}, raise_on_error=False, **extra
    )


def _output_metadata(result: Any) -> dict[str, Any]:
    [event] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    return {k: v.value for k, v in event.event_specific_data.metadata.items()}


def test_stop_job_stops_a_running_run_and_records_who_asked(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """From the Launchpad (no requester given) the run is stopped and 'launchpad' recorded."""
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    result = _run_stop_job(runtime, run.id)
    assert result.success
    meta = _output_metadata(result)
    assert (meta["result"], meta["state_before"], meta["state_after"]) == (
        "stopped",
        "running",
        "stopped",
    )
    assert meta["requested_by"] == "launchpad"
    assert meta["reason"] == "stuck since midnight"
    assert meta["elapsed_seconds"] >= 30  # the simulator takes 30 s to stop a run
    [record] = runtime.store.stop_records(TENANT)
    assert (record.requested_by, record.result) == ("launchpad", "stopped")


def test_stop_job_takes_the_requester_from_run_tags(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """A `user` tag (set by Dagster+ for a person) is recorded as who asked."""
    run = quiet_sim.tenant(TENANT).add_run(started_ago=timedelta(hours=3))
    result = _run_stop_job(runtime, run.id, tags={"user": "oncall@example.com"})
    assert _output_metadata(result)["requested_by"] == "oncall@example.com"


def test_stop_job_succeeds_and_says_so_for_a_finished_run(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """An already finished run: the job succeeds and says there was nothing to stop."""
    run = quiet_sim.tenant(TENANT).add_run(state="succeeded", started_ago=timedelta(hours=1))
    result = _run_stop_job(runtime, run.id)
    assert result.success
    meta = _output_metadata(result)
    assert meta["result"] == "not_running"
    assert "nothing to stop" in meta["message"]


def test_stop_job_succeeds_for_a_vanished_run(runtime: OpsRuntime) -> None:
    """A run that does not exist (404): the job succeeds and says it vanished."""
    result = _run_stop_job(runtime, "wf-20261101-00000-GONE00")
    assert result.success
    assert _output_metadata(result)["result"] == "vanished"


def test_stop_job_dry_run_sends_nothing(runtime: OpsRuntime, quiet_sim: Simulator) -> None:
    """A dry run from the Launchpad leaves the run running."""
    run = quiet_sim.tenant(TENANT).add_run(started_ago=timedelta(hours=3))
    result = _run_stop_job(runtime, run.id, dry_run=True)
    assert _output_metadata(result)["result"] == "dry_run"
    assert quiet_sim.tenant(TENANT).state_of(run.id) == "running"


def test_stop_job_fails_for_an_unknown_tenant(runtime: OpsRuntime) -> None:
    """A tenant the policy file does not list fails the run with a message naming it."""
    result = _run_stop_job(runtime, "wf-1", tenant="nope")
    assert not result.success
    assert "no tenant named 'nope'" in str(
        result.get_step_failure_events()[0].step_failure_data.error
    )


def test_unreachable_tenant_is_named_without_its_secret(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """A tenant whose token is refused turns its check red, by name; the token appears nowhere."""
    from amperity_ops.client import AmperityClient
    from amperity_ops.settings import TenantConfig
    from amperity_ops.simulator import IN_PROCESS_BASE_URL
    from amperity_ops_tests.services.helpers import TOKEN, make_config, make_runtime

    secret = "s3cr3t-never-shown-0451"
    tenants = [
        {"name": TENANT, "tenant_id": TENANT, "access_token": TOKEN},
        {"name": "sandbox", "tenant_id": TENANT, "access_token": secret},
    ]
    runtime = make_runtime(quiet_sim, clock, store_url, make_config(tenants=tenants))
    transport = quiet_sim.transport()

    def factory(tenant: TenantConfig) -> AmperityClient:
        assert tenant.access_token is not None
        return AmperityClient(
            tenant.tenant_id,
            base_url=IN_PROCESS_BASE_URL,
            access_token=tenant.access_token.reveal(),
            transport=transport,
            rate_limit_rps=None,
        )

    runtime.client_factory = factory
    quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(minutes=5))
    instance = DagsterInstance.ephemeral()
    result = materialize([workflow_runs], resources={"amperity_ops": runtime}, instance=instance)
    assert result.success
    meta = _metadata(result, RUNS)
    assert meta["tenants_unreachable"] == 1
    assert meta["active"] == 1
    check = _checks(result)["all_tenants_polled"]
    assert not check.passed
    assert "sandbox" in (check.description or "")
    records = instance.all_logs(result.run_id)
    assert records
    assert all(secret not in str(record) for record in records)


def test_failures_are_listed_newest_first(runtime: OpsRuntime, quiet_sim: Simulator) -> None:
    """The failures table and the check's description start with the latest failure."""
    world = quiet_sim.tenant(TENANT)
    # Started first, failed first: by start time it would come first.
    older = world.add_run(name="Older", state="failed", started_ago=timedelta(hours=6),
                          ended_ago=timedelta(hours=4), error="platform")
    newer = world.add_run(name="Newer", state="failed", started_ago=timedelta(hours=5),
                          ended_ago=timedelta(minutes=10), error="customer")
    result = materialize([workflow_runs], resources={"amperity_ops": runtime})
    table = _metadata(result, RUNS)["failures"]
    assert table.index(newer.id) < table.index(older.id)
    description = _checks(result)["no_failed_runs_in_window"].description or ""
    assert description.index("Newer") < description.index("Older")
