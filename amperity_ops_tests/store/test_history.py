"""Run and ingest history, watermarks: upserts, active runs, runtimes, on SQLite and Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from amperity_ops.client.models import IngestJob, StateKind, WorkflowRun
from amperity_ops.store import Store, StoreError

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def wf(run_id: str, state: str, *, name: str = "CG", minutes: int = 10,
       ended: bool = False, start: datetime = T0) -> WorkflowRun:
    return WorkflowRun.model_validate({
        "id": run_id, "state": state, "type": "courier.group/run", "name": name,
        "tenant": "acme", "created_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=minutes)).isoformat() if ended else None,
        "warn_after_ms": 60_000,
    })


def test_upsert_updates_in_place_and_active_runs(store: Store) -> None:
    """Upsert by (tenant, id) updates the row; active runs exclude ended ones, keep unknown."""
    store.upsert_runs("acme", [wf("wf-1", "running"), wf("wf-2", "running"),
                               wf("wf-3", "Quantum")], seen_at=T0)
    store.upsert_runs("acme", [wf("wf-1", "succeeded", ended=True)], seen_at=T0)
    store.upsert_runs("other", [wf("wf-9", "running")], seen_at=T0)
    assert store.count_runs("acme") == 3
    active = {r.id: r.state for r in store.active_runs("acme")}
    assert set(active) == {"wf-2", "wf-3"}
    assert active["wf-3"].kind is StateKind.UNKNOWN
    assert active["wf-3"].raw == "Quantum"
    got = store.get_run("acme", "wf-1")
    assert got is not None
    assert got.state.kind is StateKind.SUCCEEDED
    assert got.created_at == T0
    assert got.created_at.tzinfo is not None
    assert store.get_run("acme", "wf-9") is None


def test_duplicate_ids_in_one_batch_last_wins(store: Store) -> None:
    """A batch repeating a run id keeps the last version (Postgres cannot update twice)."""
    store.upsert_runs("acme", [wf("wf-1", "running"), wf("wf-1", "failed", ended=True)],
                      seen_at=T0)
    run = store.get_run("acme", "wf-1")
    assert run is not None
    assert run.state.raw == "failed"


def test_successful_runtimes_newest_first(store: Store) -> None:
    """Recent successful runtimes per name, newest first, failures and others excluded."""
    runs = [wf(f"wf-{i}", "succeeded", minutes=10 + i, ended=True,
               start=T0 + timedelta(hours=i)) for i in range(5)]
    runs += [wf("wf-f", "failed", minutes=99, ended=True), wf("wf-o", "succeeded", name="X",
                                                              minutes=1, ended=True)]
    store.upsert_runs("acme", runs, seen_at=T0)
    got = store.successful_runtimes("acme", ["CG", "Nope"], limit=3)
    assert got == {"CG": [14 * 60.0, 13 * 60.0, 12 * 60.0]}


def test_runs_since_includes_active(store: Store) -> None:
    """runs_since returns recent runs and every still-active run, however old."""
    old_active = wf("wf-old", "running", start=T0 - timedelta(days=9))
    old_done = wf("wf-done", "succeeded", start=T0 - timedelta(days=9), ended=True)
    store.upsert_runs("acme", [old_active, old_done, wf("wf-new", "running")], seen_at=T0)
    assert {r.id for r in store.runs_since("acme", T0 - timedelta(days=1))} == {"wf-old", "wf-new"}


def test_watermarks(store: Store) -> None:
    """A watermark is None before the first set, then the last value set, per tenant and stream."""
    assert store.get_watermark("acme", "workflow_runs") is None
    store.set_watermark("acme", "workflow_runs", T0)
    store.set_watermark("acme", "workflow_runs", T0 + timedelta(minutes=5))
    store.set_watermark("acme", "ingest_jobs", T0 - timedelta(days=1))
    assert store.get_watermark("acme", "workflow_runs") == T0 + timedelta(minutes=5)
    assert store.get_watermark("other", "workflow_runs") is None


def test_ingest_jobs_and_feeds(store: Store) -> None:
    """Ingest jobs round-trip with their feeds; feed totals are summed per job."""
    job = IngestJob.model_validate({"id": "isj-1", "workflow_id": "wf-1", "tables": [
        {"feed_id": "df-1", "table_name": "orders", "state": "succeeded", "read": 100,
         "errors": 2, "rejected": 3, "inserted": 95, "updated": 0,
         "started_at": T0.isoformat(), "ended_at": (T0 + timedelta(minutes=1)).isoformat()},
        {"feed_id": "df-2", "table_name": "customers", "state": "failed", "read": 50,
         "errors": 50, "rejected": 0, "inserted": 0, "updated": 0},
    ]})
    store.upsert_ingest_jobs("acme", [job], seen_at=T0)
    store.upsert_ingest_jobs("acme", [job], seen_at=T0)
    (back,) = store.ingest_jobs_since("acme", T0 - timedelta(hours=1))
    assert back.id == "isj-1"
    assert [f.table_name for f in back.tables] == ["orders", "customers"]
    assert store.feed_totals("acme", ["isj-1"]) == {"isj-1": (150, 52, 3)}


def test_schema_creation_is_idempotent(store_url: str) -> None:
    """Opening the same URL again (a second process, a restart) keeps the data."""
    first = Store.from_url(store_url)
    first.upsert_runs("acme", [wf("wf-1", "running")], seen_at=T0)
    first.close()
    second = Store.from_url(store_url)
    assert [r.id for r in second.active_runs("acme")] == ["wf-1"]
    second.close()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql+psycopg2://u:hunter2@127.0.0.1:1/x", "Connection refused"),
        ("nosuch://x", "NoSuchModuleError"),
        ("sqlite:////proc/no-such-dir/x.sqlite", "FileNotFoundError"),
        ("not a url", "an unparseable URL"),
    ],
)
def test_unusable_store_url_is_one_clear_error(url: str, says: str) -> None:
    """A store that cannot be opened raises StoreError: one line, no password."""
    with pytest.raises(StoreError) as info:
        Store.from_url(url)
    assert says in str(info.value)
    assert "hunter2" not in str(info.value)
    assert "\n" not in str(info.value)


def test_vanished_runs_leave_the_active_set_until_seen_again(store: Store) -> None:
    """A run marked vanished is no longer active nor counted; an ended one is not marked."""
    store.upsert_runs("acme", [wf("wf-1", "running"), wf("wf-2", "running"),
                               wf("wf-3", "succeeded", ended=True)], seen_at=T0)
    later = T0 + timedelta(minutes=5)
    assert store.mark_runs_vanished("acme", ["wf-1", "wf-3", "wf-9"], at=later) == 1
    assert [r.id for r in store.active_runs("acme")] == ["wf-2"]
    assert store.vanished_run_ids("acme") == {"wf-1"}
    assert {r.id for r in store.runs_since("acme", T0 - timedelta(days=1))} == {"wf-2", "wf-3"}
    assert store.get_run("acme", "wf-1") is not None  # kept, as last seen
    assert store.mark_runs_vanished("acme", [], at=later) == 0
    store.upsert_runs("acme", [wf("wf-1", "running")], seen_at=later)  # listed again
    assert [r.id for r in store.active_runs("acme")] == ["wf-1", "wf-2"]
    assert store.vanished_run_ids("acme") == set()


def test_active_runs_stalest_first(store: Store) -> None:
    """stalest_first orders active runs by when they were last read, oldest first."""
    store.upsert_runs("acme", [wf("wf-1", "running")], seen_at=T0 + timedelta(minutes=2))
    store.upsert_runs("acme", [wf("wf-2", "running", start=T0 + timedelta(minutes=1))],
                      seen_at=T0)
    assert [r.id for r in store.active_runs("acme")] == ["wf-1", "wf-2"]
    assert [r.id for r in store.active_runs("acme", stalest_first=True)] == ["wf-2", "wf-1"]
