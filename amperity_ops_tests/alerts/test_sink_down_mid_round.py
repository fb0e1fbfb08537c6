"""A sink that fails after succeeding this round: tried up to three times in a row, then left."""

from __future__ import annotations

import httpx

from amperity_ops.alerts import WebhookSink
from amperity_ops.services.outbox import DOWN_AFTER_FAILURES, deliver_due
from amperity_ops.settings import SecretRef
from amperity_ops.store import Store
from amperity_ops_tests.alerts.conftest import T0, message
from amperity_ops_tests.crash.receivers import RecordingHook
from amperity_ops_tests.receiver import serving


def test_a_sink_dying_mid_round_costs_three_attempts_then_waits(store: Store) -> None:
    """Up for one alert, then 500s: 1 delivered, 3 failed attempts, the other 6 postponed."""
    hook = RecordingHook.fresh(fail_every=1, ok_first=1)
    store.enqueue_alerts([message(f"wf-{i}") for i in range(10)], ["webhook"], now=T0)
    with serving(hook) as url, httpx.Client(timeout=5) as http:
        sinks = {"webhook": WebhookSink("webhook", SecretRef.model_validate(url))}
        report = deliver_due(store, sinks, now=T0, http=http)
    assert (report.delivered, report.failed, report.postponed) == (1, DOWN_AFTER_FAILURES, 6)
    assert len(hook.seen) == 1 + DOWN_AFTER_FAILURES


def test_a_sink_failing_first_is_left_after_one_attempt(store: Store) -> None:
    """Failing before any success this round: one attempt, the rest wait (a dead sink)."""
    hook = RecordingHook.fresh(fail_every=1)
    store.enqueue_alerts([message(f"wf-{i}") for i in range(5)], ["webhook"], now=T0)
    with serving(hook) as url, httpx.Client(timeout=5) as http:
        sinks = {"webhook": WebhookSink("webhook", SecretRef.model_validate(url))}
        report = deliver_due(store, sinks, now=T0, http=http)
    assert (report.delivered, report.failed, report.postponed) == (0, 1, 4)
