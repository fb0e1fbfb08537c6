"""Outbox delivery: a sink down then up gets each alert exactly once, across restarts too."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest
import uvicorn

from amperity_ops.alerts import (
    AlertSink,
    PagerDutySink,
    SlackSink,
    TeamsSink,
    WebhookSink,
    build_sinks,
)
from amperity_ops.core import AlertLevel
from amperity_ops.services.outbox import deliver_due, retry_delay
from amperity_ops.settings import DeliveryConfig, OpsConfig, SecretRef, sink_ids
from amperity_ops.store import Store
from amperity_ops_tests.alerts.conftest import T0, TestClient, message
from amperity_ops_tests.alerts.receiver import Receiver

ROUTING_KEY = "R0UT1NGKEYSECRET"


def sinks(base: str = "http://hooks.test") -> dict[str, AlertSink]:
    return {
        "slack": SlackSink("slack", SecretRef.model_validate(f"{base}/slack/T0/SECRETPATH")),
        "pagerduty": PagerDutySink("pagerduty", SecretRef.model_validate(ROUTING_KEY),
                                   url=f"{base}/pagerduty"),
        "teams": TeamsSink("teams", SecretRef.model_validate(f"{base}/teams/SECRETPATH")),
        "webhook": WebhookSink("webhook", SecretRef.model_validate(f"{base}/webhook")),
    }


def test_sink_down_then_up_receives_each_alert_exactly_once(
    store: Store, receiver: Receiver, http: TestClient
) -> None:
    """While the receiver answers 500 nothing is lost; when it is up each alert arrives once."""
    targets = sinks()
    store.enqueue_alerts([message("wf-1"), message("wf-2", AlertLevel.BREACHED)],
                         list(targets), now=T0)
    receiver.down = True
    first = deliver_due(store, targets, now=T0, http=http)
    assert (first.delivered, first.failed, first.postponed) == (0, 4, 4)
    assert len(receiver.attempts) == 4  # one attempt per sink, the rest waits
    second = deliver_due(store, targets, now=T0 + timedelta(seconds=10), http=http)
    assert (second.delivered, second.failed) == (0, 0)  # not due yet: backoff
    receiver.down = False
    third = deliver_due(store, targets, now=T0 + timedelta(minutes=1), http=http)
    assert (third.delivered, third.failed) == (8, 0)
    assert sorted(receiver.paths()) == sorted(
        ["/slack/T0/SECRETPATH", "/pagerduty", "/teams/SECRETPATH", "/webhook"] * 2)
    assert deliver_due(store, targets, now=T0 + timedelta(days=1), http=http).delivered == 0
    assert len(receiver.received) == 8
    assert store.outbox_counts() == {"delivered": 8}


def test_delivered_alert_not_resent_by_fresh_store(
    store_url: str, receiver: Receiver, http: TestClient
) -> None:
    """After delivery, a new Store on the same URL (a daemon restart) sends nothing again."""
    first = Store.from_url(store_url)
    first.enqueue_alerts([message()], ["webhook"], now=T0)
    assert deliver_due(first, sinks(), now=T0, http=http).delivered == 1
    first.close()
    restarted = Store.from_url(store_url)
    restarted.enqueue_alerts([message()], ["webhook"], now=T0 + timedelta(minutes=1))
    report = deliver_due(restarted, sinks(), now=T0 + timedelta(hours=1), http=http)
    assert report.delivered == 0
    assert len(receiver.received) == 1
    restarted.close()


def test_pagerduty_trigger_then_resolve_share_dedup_key_in_order(
    store: Store, receiver: Receiver, http: TestClient
) -> None:
    """Trigger and resolve carry one dedup_key; a resolve never overtakes a failed trigger."""
    pd = {"pagerduty": sinks()["pagerduty"]}
    store.enqueue_alerts([message(level=AlertLevel.BREACHED)], ["pagerduty"], now=T0)
    receiver.down = True
    deliver_due(store, pd, now=T0, http=http)  # trigger fails, retry in 30 s
    store.enqueue_alerts([message(level=AlertLevel.RESOLVED)], ["pagerduty"], now=T0)
    receiver.down = False
    assert deliver_due(store, pd, now=T0 + timedelta(seconds=5), http=http).delivered == 0
    assert deliver_due(store, pd, now=T0 + timedelta(seconds=31), http=http).delivered == 1
    assert deliver_due(store, pd, now=T0 + timedelta(seconds=32), http=http).delivered == 1
    (_, trigger), (_, resolve) = receiver.received
    assert trigger["event_action"] == "trigger"
    assert resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == "amperity-ops:acme:wf-1"
    assert trigger["routing_key"] == ROUTING_KEY
    assert trigger["payload"]["severity"] == "critical"


def test_errors_keep_secrets_out_of_store_and_logs(
    store: Store, receiver: Receiver, http: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing sink's error (even one echoing its secret) is stored and logged redacted;
    httpx's own request log does not show a sink URL either."""
    receiver.down = True
    store.enqueue_alerts([message()], ["pagerduty", "slack"], now=T0)
    with caplog.at_level(logging.DEBUG):
        deliver_due(store, sinks(), now=T0, http=http)
    stored = " ".join(i.last_error or "" for i in store.outbox_items())
    assert "HTTP 500" in stored
    for secret in (ROUTING_KEY, "SECRETPATH"):
        assert secret not in stored
        assert secret not in caplog.text


def test_connection_refused_then_up_over_real_socket(store: Store) -> None:
    """Over a real socket: connection refused keeps the alert; the server up gets it once."""
    port = free_port()
    targets = {"webhook": WebhookSink("webhook", SecretRef.model_validate(
        f"http://127.0.0.1:{port}/hook?token=SECRETTOKEN"))}
    store.enqueue_alerts([message()], ["webhook"], now=T0)
    with httpx.Client(timeout=2) as http:
        down = deliver_due(store, targets, now=T0, http=http)
        assert down.failed == 1
        (item,) = store.outbox_items()
        assert "ConnectError" in (item.last_error or "")
        assert "SECRETTOKEN" not in (item.last_error or "")
        receiver = Receiver()
        with serve(receiver, port):
            up = deliver_due(store, targets, now=T0 + timedelta(minutes=1), http=http)
            again = deliver_due(store, targets, now=T0 + timedelta(hours=1), http=http)
    assert (up.delivered, again.delivered) == (1, 0)
    assert receiver.paths() == ["/hook"]


def test_gives_up_after_max_age_loudly_and_keeps_row(
    store: Store, receiver: Receiver, http: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """An alert undeliverable past give_up_after is marked expired, logged at ERROR, kept."""
    receiver.down = True
    store.enqueue_alerts([message()], ["webhook"], now=T0)
    config = DeliveryConfig(give_up_after=timedelta(hours=1))
    deliver_due(store, sinks(), now=T0, http=http, delivery=config)
    with caplog.at_level(logging.ERROR):
        report = deliver_due(store, sinks(), now=T0 + timedelta(hours=2), http=http,
                             delivery=config)
    assert report.expired == 1
    assert "GIVING UP" in caplog.text
    assert store.outbox_counts() == {"expired": 1}


def test_unconfigured_sink_items_stay_pending(
    store: Store, http: TestClient, receiver: Receiver
) -> None:
    """Items for a sink no longer configured are kept pending, not dropped or sent elsewhere."""
    store.enqueue_alerts([message()], ["old-slack"], now=T0)
    assert deliver_due(store, sinks(), now=T0, http=http).delivered == 0
    assert store.outbox_counts() == {"pending": 1}
    assert receiver.received == []


def test_time_budget_postpones_the_rest(store: Store, http: TestClient) -> None:
    """Past max_seconds, remaining items are put back untried for the next round."""
    store.enqueue_alerts([message(f"wf-{i}") for i in range(3)], ["webhook"], now=T0)
    ticks = iter([0.0, 0.0, 5.0, 5.0, 5.0])
    report = deliver_due(store, sinks(), now=T0, http=http, max_seconds=1.0,
                         clock=lambda: next(ticks))
    assert (report.delivered, report.postponed) == (1, 2)
    assert deliver_due(store, sinks(), now=T0, http=http).delivered == 2


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(1, timedelta(seconds=30)), (2, timedelta(minutes=1)), (4, timedelta(minutes=4)),
     (6, timedelta(minutes=15)), (60, timedelta(minutes=15))],
)
def test_retry_delay_doubles_up_to_the_cap(failures: int, expected: timedelta) -> None:
    """Backoff starts at 30 s, doubles per failure and stops at 15 min."""
    assert retry_delay(failures) == expected


def test_build_sinks_from_config() -> None:
    """The config's alerts list becomes sinks keyed by the same ids the outbox uses."""
    cfg = OpsConfig.model_validate({
        "alerts": [{"kind": "slack", "webhook_url": {"env": "X"}}, {"kind": "log"},
                   {"kind": "log"}, {"kind": "pagerduty", "routing_key": {"env": "Y"}},
                   {"kind": "teams", "webhook_url": "u", "card": "messagecard"},
                   {"kind": "webhook", "url": "u", "name": "ops-hook"}],
        "tenants": [{"tenant_id": "t", "access_token": "x"}],
    })
    built = build_sinks(cfg.alerts)
    assert list(built) == sink_ids(cfg.alerts) == [
        "slack", "log", "log-2", "pagerduty", "teams", "ops-hook"]
    assert [type(s).__name__ for s in built.values()] == [
        "SlackSink", "LogSink", "LogSink", "PagerDutySink", "TeamsSink", "WebhookSink"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(receiver: Receiver, port: int) -> Iterator[None]:
    """Run the receiver on 127.0.0.1:port in a thread until the block ends."""
    server = uvicorn.Server(uvicorn.Config(receiver.app(), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=5)
