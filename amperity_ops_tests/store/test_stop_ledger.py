"""The stop ledger: who asked, why, the result, and the guard rails' counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from amperity_ops.core import Requester
from amperity_ops.store import NewStop, Store
from amperity_ops.store.schema import stop_ledger

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
SENSOR = Requester.sensor("amperity_workflow_sla_sensor")


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


def test_real_requests_and_dry_run_notes_are_kept_apart(store: Store) -> None:
    """A dry-run note is not a requested stop; notes are asked about separately, by requester."""
    record(store, "wf-1", at=T0)
    record(store, "wf-2", at=T0, dry_run=True)
    record(store, "wf-3", at=T0, dry_run=True, by="launchpad")
    assert store.stop_requested("acme", "wf-1")
    assert not store.stop_requested("acme", "wf-2")
    assert not store.stop_requested("acme", "wf-4")
    ids = ["wf-1", "wf-2", "wf-3", "wf-4"]
    assert store.stop_requested_ids("acme", ids) == {"wf-1"}
    assert store.dry_run_noted_ids("acme", ids) == {"wf-2", "wf-3"}
    assert store.dry_run_noted_ids("acme", ids, requester=SENSOR) == {"wf-2"}
    assert store.stop_requested_ids("acme", []) == set()
    assert store.stop_requested_ids("other", ids) == set()


def test_record_stops_writes_many_rows_in_order(store: Store) -> None:
    """A batch of stops gets ids in the order given, each row as asked, across IN chunks."""
    stops = [
        NewStop(run_key=f"stop:acme:wf-{i}", tenant="acme", workflow_id=f"wf-{i}",
                requested_by="sensor", reason=f"reason {i}", dry_run=i % 2 == 1,
                requested_at=T0, workflow_name=f"CG {i}", state_before="running")
        for i in range(1_200)
    ]
    ids = store.record_stops(stops)
    assert len(ids) == 1_200
    assert ids == sorted(ids)
    by_id = {r.id: r for r in store.stop_records("acme", limit=2_000)}
    assert [(by_id[i].workflow_id, by_id[i].reason, by_id[i].dry_run) for i in ids[:3]] == [
        ("wf-0", "reason 0", False), ("wf-1", "reason 1", True), ("wf-2", "reason 2", False)]
    all_ids = [s.workflow_id for s in stops]
    assert len(store.stop_requested_ids("acme", all_ids)) == 600
    assert len(store.dry_run_noted_ids("acme", all_ids)) == 600
    assert store.record_stops([]) == []


def test_pending_stop_id_finds_the_open_request_behind_many_rows(store: Store) -> None:
    """The stop job finds the sensor's unfinished row by run, even behind 300 newer rows."""
    pending = record(store, "wf-1", at=T0, by="sensor")
    store.record_stops([
        NewStop(run_key=f"stop:acme:wf-{i}", tenant="acme", workflow_id=f"wf-{i}",
                requested_by="sensor", reason="r", dry_run=False, requested_at=T0)
        for i in range(2, 302)
    ])
    record(store, "wf-1", at=T0, by="launchpad")
    record(store, "wf-1", at=T0, by="sensor", dry_run=True)
    assert store.pending_stop_id("acme", "wf-1", requester=SENSOR) == pending
    assert store.pending_stop_id("other", "wf-1", requester=SENSOR) is None
    store.finish_stop(pending, result="stopped", state_after="stopped", finished_at=T0)
    assert store.pending_stop_id("acme", "wf-1", requester=SENSOR) is None


def test_unlaunched_stops_are_old_open_real_requests_not_yet_resent(store: Store) -> None:
    """Only unfinished, real, old-enough rows by the requester qualify, and only until resent."""
    old = record(store, "wf-1", at=T0, by="sensor")
    record(store, "wf-2", at=T0 + timedelta(minutes=20), by="sensor")  # too recent
    record(store, "wf-3", at=T0, by="launchpad")  # someone else's
    record(store, "wf-4", at=T0, by="sensor", dry_run=True)  # a note
    done = record(store, "wf-5", at=T0, by="sensor")
    store.finish_stop(done, result="stopped", state_after="stopped", finished_at=T0)
    before = T0 + timedelta(minutes=10)
    found = store.unlaunched_stops("acme", requester=SENSOR, before=before)
    assert [r.id for r in found] == [old]
    store.mark_stops_rerequested([old], at=before)
    assert store.unlaunched_stops("acme", requester=SENSOR, before=before) == []
    assert (store.stop_records("acme", limit=10)[-1].detail or "").startswith("requested again")
    store.mark_stops_rerequested([], at=before)


def test_latest_real_stops_is_the_newest_real_row_per_run(store: Store) -> None:
    """Per run, the newest real request wins; dry-run notes and other tenants are left out."""
    record(store, "wf-1", at=T0, by="sensor")
    record(store, "wf-1", at=T0 + timedelta(minutes=1), by="cli alice")
    record(store, "wf-2", at=T0, dry_run=True)
    record(store, "wf-3", at=T0, tenant="other")
    found = store.latest_real_stops("acme", ["wf-1", "wf-2", "wf-3", "wf-9"])
    assert {k: v.requested_by for k, v in found.items()} == {"wf-1": "cli alice"}
    assert store.latest_real_stops("acme", []) == {}


def test_stop_records_since_is_the_window_newest_first(store: Store) -> None:
    """Rows requested since a time, newest first, limited, for the chosen tenants only."""
    record(store, "wf-old", at=T0 - timedelta(days=2))
    record(store, "wf-1", at=T0)
    record(store, "wf-2", at=T0 + timedelta(minutes=5), dry_run=True)
    record(store, "wf-3", at=T0 + timedelta(minutes=1), tenant="other")
    since = T0 - timedelta(hours=24)
    assert [r.workflow_id for r in store.stop_records_since(since, tenants=["acme"])] == [
        "wf-2", "wf-1"]
    assert [r.workflow_id for r in store.stop_records_since(since)] == ["wf-2", "wf-3", "wf-1"]
    assert [r.workflow_id for r in store.stop_records_since(since, limit=1)] == ["wf-2"]


def test_requesters_are_stored_typed_and_old_rows_are_read_from_their_text(store: Store) -> None:
    """The requester columns hold kind and name; a row without them is read from its label."""
    cli = record(store, "wf-1", at=T0, by="cli:alice")
    old = record(store, "wf-2", at=T0, by="sensor amperity_workflow_sla_sensor")
    with store._engine.begin() as conn:  # a row written before the requester columns
        conn.execute(update(stop_ledger).where(stop_ledger.c.id == old)
                     .values(requester_kind=None, requester_name=None))
    by_id = {r.id: r for r in store.stop_records("acme")}
    assert by_id[cli].requester == Requester.cli("alice")
    assert by_id[old].requester == Requester.sensor("amperity_workflow_sla_sensor")
    assert store.pending_stop_id("acme", "wf-2", requester=Requester.sensor("renamed")) == old
    assert store.pending_stop_id("acme", "wf-1", requester=Requester.cli("bob")) is None
    assert store.pending_stop_id("acme", "wf-1", requester=Requester.cli("alice")) == cli


@pytest.mark.parametrize(
    ("text", "kind", "name"),
    [("sensor amperity_workflow_sla_sensor", "sensor", "amperity_workflow_sla_sensor"),
     ("cli", "cli", ""), ("cli alice", "cli", "alice"), ("cli:alice", "cli", "alice"),
     ("launchpad (anonymous)", "person", "launchpad (anonymous)"),
     ("jane@example.com", "person", "jane@example.com")],
)
def test_requester_from_text(text: str, kind: str, name: str) -> None:
    """Free-text requesters of old rows are read as sensor, cli or person."""
    requester = Requester.from_text(text)
    assert (requester.kind.value, requester.name) == (kind, name)
    if text != "cli alice":  # the CLI has always written ``cli:<user>``
        assert requester.label == text
