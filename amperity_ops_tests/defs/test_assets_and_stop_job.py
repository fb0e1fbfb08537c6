"""Polling assets (metadata, checks), executed in-process over the simulator.

The stop job's tests are in test_stop_job.py.
"""

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
from amperity_ops.defs.check_runs import ingest_jobs_checks, workflow_runs_checks
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops_tests.services.helpers import TENANT

RUNS = AssetKey(["amperity", "workflow_runs"])
RUNS_DEFS = [workflow_runs, workflow_runs_checks]
"""The asset and its checks (which run apart in production: defs/check_runs.py)."""
INGEST_DEFS = [ingest_jobs, ingest_jobs_checks]


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
    result = materialize(RUNS_DEFS, resources={"amperity_ops": runtime})
    assert result.success
    meta = _metadata(result, RUNS)
    assert (meta["active"], meta["breached"], meta["failed"]) == (2, 1, 1)
    assert meta["p95_runtime_minutes"] == 60.0
    table = meta["active_runs"]
    assert "BREACHED" in table
    assert breached.id in table
    assert "3h 00m" in table
    assert f"https://acme.amperity.example/#/workflows/{breached.id}" in table
    assert "policy:courier-groups" in meta["active_runs_details"]
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
    result = materialize(INGEST_DEFS, resources={"amperity_ops": runtime})
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
    materialize(RUNS_DEFS, resources={"amperity_ops": runtime}, instance=instance)
    clock.advance(timedelta(minutes=5))
    log = quiet_sim.request_log(TENANT)
    log.reset()
    materialize(RUNS_DEFS, resources={"amperity_ops": runtime}, instance=instance)
    assert log.count("/api/workflow/runs", method="GET") == 1
    assert log.total == 1


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
    result = materialize(RUNS_DEFS, resources={"amperity_ops": runtime}, instance=instance)
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
    result = materialize(RUNS_DEFS, resources={"amperity_ops": runtime})
    table = _metadata(result, RUNS)["failures"]
    assert table.index(newer.id) < table.index(older.id)
    description = _checks(result)["no_failed_runs_in_window"].description or ""
    assert description.index("Newer") < description.index("Older")
