"""The stop ledger: who asked, why, the result, and the guard rails' counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from amperity_ops.store import Store

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def record(store: Store, workflow_id: str, *, at: datetime, dry_run: bool = False,
           tenant: str = "acme", by: str = "sensor") -> int:
    return store.record_stop(
        run_key=f"stop:{tenant}:{workflow_id}", tenant=tenant, workflow_id=workflow_id,
        requested_by=by, reason="over max_runtime", dry_run=dry_run, requested_at=at,
        workflow_name="CG", state_before="running")


def test_record_and_finish(store: Store) -> None:
    """A stop is recorded with who and why, then finished with result and after-state."""
    stop_id = record(store, "wf-1", at=T0, by="sensor:amperity_workflow_sla_sensor")
    store.finish_stop(stop_id, result="stopped", state_after="stopped",
                      finished_at=T0 + timedelta(seconds=40), detail="took 40s")
    (rec,) = store.stop_records("acme")
    assert (rec.requested_by, rec.result, rec.state_before, rec.state_after) == (
        "sensor:amperity_workflow_sla_sensor", "stopped", "running", "stopped")
    assert rec.run_key == "stop:acme:wf-1"
    assert rec.finished_at == T0 + timedelta(seconds=40)
    assert rec.dry_run is False


def test_stops_since_counts_distinct_real_stops_in_window(store: Store) -> None:
    """The hourly count is distinct runs, excludes dry runs, old rows and other tenants."""
    record(store, "wf-1", at=T0)
    record(store, "wf-1", at=T0 + timedelta(minutes=1), by="stop job")  # same run, 2nd row
    record(store, "wf-2", at=T0 + timedelta(minutes=2))
    record(store, "wf-3", at=T0 + timedelta(minutes=3), dry_run=True)
    record(store, "wf-4", at=T0 - timedelta(hours=2))
    record(store, "wf-5", at=T0, tenant="other")
    assert store.stops_since("acme", T0 - timedelta(minutes=30)) == 2


def test_stop_requested_includes_dry_runs(store: Store) -> None:
    """A run with any ledger row (real or dry run) counts as already requested."""
    record(store, "wf-1", at=T0)
    record(store, "wf-2", at=T0, dry_run=True)
    assert store.stop_requested("acme", "wf-1")
    assert store.stop_requested("acme", "wf-2")
    assert not store.stop_requested("acme", "wf-3")
    assert store.stop_requested_ids("acme", ["wf-1", "wf-2", "wf-3"]) == {"wf-1", "wf-2"}
    assert store.stop_requested_ids("acme", []) == set()
