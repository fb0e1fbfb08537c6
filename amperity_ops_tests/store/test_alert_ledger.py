"""Alert tracks and the outbox: once per (dedup key, level, sink), leases, restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from amperity_ops.core import AlertLevel, AlertMessage, AlertTrack, dedup_key
from amperity_ops.store import Store

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def message(run_id: str = "wf-1", level: AlertLevel = AlertLevel.WARNING) -> AlertMessage:
    return AlertMessage(
        tenant="acme", workflow_id=run_id, workflow_name="CG", level=level,
        title=f"{level.value.upper()}: CG", text="text", dedup_key=dedup_key("acme", run_id),
        raised_at=T0, runtime_s=5400.0, facts=(("Runtime", "1h 30m"),),
    )


def test_tracks_round_trip_and_resolved_leave_open_set(store: Store) -> None:
    """Saved tracks come back as open tracks until resolved; other tenants are separate."""
    store.save_alert_tracks("acme", {
        "wf-1": AlertTrack(AlertLevel.WARNING, AlertLevel.WARNING, "CG"),
        "wf-2": AlertTrack(AlertLevel.BREACHED, AlertLevel.BREACHED, "CG"),
    }, now=T0)
    store.save_alert_tracks("acme", {
        "wf-2": AlertTrack(AlertLevel.RESOLVED, AlertLevel.RESOLVED, "CG")}, now=T0)
    assert store.open_alert_tracks("acme") == {
        "wf-1": AlertTrack(AlertLevel.WARNING, AlertLevel.WARNING, "CG")}
    assert store.alert_tracks("acme", ["wf-2"])["wf-2"].level is AlertLevel.RESOLVED
    assert store.open_alert_tracks("other") == {}


def test_ingest_alerted_is_separate_from_run_tracks(store: Store) -> None:
    """Ingest alert marks are remembered per job and never appear as open run tracks."""
    store.mark_ingest_alerted("acme", "isj-1", now=T0)
    assert store.ingest_alerted("acme", ["isj-1", "isj-2"]) == {"isj-1"}
    assert store.open_alert_tracks("acme") == {}


def test_enqueue_is_once_per_level_and_sink(store: Store) -> None:
    """Enqueueing the same message twice adds nothing; a new level or sink adds rows."""
    assert store.enqueue_alerts([message()], ["slack", "pagerduty"], now=T0) == 2
    assert store.enqueue_alerts([message()], ["slack", "pagerduty"], now=T0) == 0
    assert store.enqueue_alerts([message(level=AlertLevel.BREACHED)], ["slack"], now=T0) == 1
    items = store.outbox_items()
    assert [(i.sink, i.message.level) for i in items] == [
        ("slack", AlertLevel.WARNING), ("pagerduty", AlertLevel.WARNING),
        ("slack", AlertLevel.BREACHED)]
    assert items[0].message == message()


def test_claim_lease_delivered_and_retry(store: Store) -> None:
    """A claimed item is leased; failures come back at retry_at; delivered never comes back."""
    store.enqueue_alerts([message("wf-1"), message("wf-2")], ["slack"], now=T0)
    first = store.claim_due_alerts(now=T0, lease=timedelta(minutes=2))
    assert [i.message.workflow_id for i in first] == ["wf-1", "wf-2"]
    assert store.claim_due_alerts(now=T0 + timedelta(seconds=30)) == []  # leased
    store.mark_alert_delivered(first[0].id, now=T0)
    store.mark_alert_failed(first[1].id, now=T0, error="slack: HTTP 500",
                            retry_at=T0 + timedelta(minutes=5))
    assert store.claim_due_alerts(now=T0 + timedelta(minutes=4)) == []
    (again,) = store.claim_due_alerts(now=T0 + timedelta(minutes=5))
    assert again.message.workflow_id == "wf-2"
    assert again.attempts == 1
    assert again.last_error == "slack: HTTP 500"
    assert store.claim_due_alerts(now=T0 + timedelta(minutes=6)) == []  # wf-2 leased again
    (back,) = store.claim_due_alerts(now=T0 + timedelta(days=30))  # lease over: at least once
    assert back.id == again.id
    assert store.outbox_counts() == {"delivered": 1, "pending": 1}


def test_claim_filters_by_sink_and_expiry_keeps_row(store: Store) -> None:
    """Claims can be limited to configured sinks; an expired item is kept but not handed out."""
    store.enqueue_alerts([message()], ["slack", "gone"], now=T0)
    (item,) = store.claim_due_alerts(now=T0, sinks=["slack"])
    store.mark_alert_expired(item.id, now=T0, error="gave up")
    assert store.claim_due_alerts(now=T0 + timedelta(days=1), sinks=["slack"]) == []
    assert store.outbox_counts() == {"expired": 1, "pending": 1}


def test_delivered_state_survives_a_fresh_store(store_url: str) -> None:
    """A fresh Store on the same URL (a restart) sees delivered items as delivered."""
    first = Store.from_url(store_url)
    first.enqueue_alerts([message()], ["slack"], now=T0)
    (item,) = first.claim_due_alerts(now=T0)
    first.mark_alert_delivered(item.id, now=T0)
    first.close()
    second = Store.from_url(store_url)
    assert second.enqueue_alerts([message()], ["slack"], now=T0) == 0
    assert second.claim_due_alerts(now=T0 + timedelta(days=1)) == []
    second.close()


def test_two_stores_do_not_claim_the_same_item(store_url: str) -> None:
    """Two processes claiming at once hand each item to exactly one of them."""
    a, b = Store.from_url(store_url), Store.from_url(store_url)
    a.enqueue_alerts([message(f"wf-{i}") for i in range(20)], ["slack"], now=T0)
    claimed_a = a.claim_due_alerts(now=T0, limit=12)
    claimed_b = b.claim_due_alerts(now=T0)
    ids_a, ids_b = {i.id for i in claimed_a}, {i.id for i in claimed_b}
    assert not ids_a & ids_b
    assert len(ids_a | ids_b) == 20
    a.close()
    b.close()


def test_resolved_is_final_in_tracks_and_outbox(store: Store) -> None:
    """After resolved, a track is not reopened and no new level is queued under its key."""
    store.enqueue_alerts([message(level=AlertLevel.WARNING)], ["pd"], now=T0)
    store.enqueue_alerts([message(level=AlertLevel.RESOLVED)], ["pd"], now=T0)
    store.save_alert_tracks("acme", {
        "wf-1": AlertTrack(AlertLevel.RESOLVED, AlertLevel.RESOLVED, "CG")}, now=T0)
    # the run "comes back" and breaches: neither the track nor the outbox reopen
    assert store.enqueue_alerts([message(level=AlertLevel.BREACHED),
                                 message("wf-2", AlertLevel.BREACHED)], ["pd"], now=T0) == 1
    store.save_alert_tracks("acme", {
        "wf-1": AlertTrack(AlertLevel.BREACHED, AlertLevel.BREACHED, "CG")}, now=T0)
    assert store.open_alert_tracks("acme") == {}
    assert [(i.message.workflow_id, i.message.level) for i in store.outbox_items()] == [
        ("wf-1", AlertLevel.WARNING), ("wf-1", AlertLevel.RESOLVED),
        ("wf-2", AlertLevel.BREACHED)]


def test_batch_delivered_and_postponed(store: Store) -> None:
    """Many items are marked delivered, or put back untried, in one call each."""
    store.enqueue_alerts([message(f"wf-{i}") for i in range(5)], ["slack"], now=T0)
    items = store.claim_due_alerts(now=T0)
    assert len(items) == 5
    assert store.mark_alerts_delivered([i.id for i in items[:3]], now=T0) == 3
    assert store.mark_alerts_delivered([items[0].id], now=T0) == 0  # already delivered
    store.postpone_alerts([i.id for i in items[3:]], until=T0 + timedelta(seconds=10))
    assert store.claim_due_alerts(now=T0 + timedelta(seconds=9)) == []
    back = store.claim_due_alerts(now=T0 + timedelta(seconds=10))
    assert [i.message.workflow_id for i in back] == ["wf-3", "wf-4"]
    assert {i.attempts for i in back} == {0}
    assert store.outbox_counts() == {"delivered": 3, "pending": 2}
