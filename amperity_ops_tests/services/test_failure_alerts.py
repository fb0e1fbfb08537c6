"""Failure alerts end to end: SLA ticks over the simulator, delivered to loopback receivers.

A run that fails without ever being late pages once (routed by attribution), costs the tick
no extra API request, and is not alerted again by the next tick's overlapping listing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.sla_guard import run_sla_tick
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops_tests.receiver import PathRecorder, recording
from amperity_ops_tests.services.helpers import STOP_POLICY, TENANT, make_config, make_runtime


@pytest.fixture
def hooks() -> Iterator[tuple[str, type[PathRecorder]]]:
    """One loopback server: PagerDuty posts to /pd, the two Slack webhooks to /platform, /chat."""
    with recording() as served:
        yield served


ROUTES = [{"name": "platform failures page", "sinks": ["pagerduty", "platform"],
           "match": {"kind": "failure", "attribution": "platform"}},
          {"name": "the rest to chat", "match": {"tenant": TENANT}, "sinks": ["chat"]}]


def runtime_for(sim: Simulator, clock: ManualClock, url: str, base: str,
                **extra: Any) -> OpsRuntime:
    """Alert-only SLA policy; PagerDuty plus two Slack webhooks routed by ROUTES."""
    config = make_config(alerts=[
        {"kind": "pagerduty", "routing_key": "R0UT1NG", "url": f"{base}/pd"},
        {"kind": "slack", "name": "platform", "webhook_url": f"{base}/platform"},
        {"kind": "slack", "name": "chat", "webhook_url": f"{base}/chat"},
    ], policies=[{**STOP_POLICY, "action": "alert"}], alert_rules=ROUTES, **extra)
    return make_runtime(sim, clock, url, config)


def posts(handler: type[PathRecorder], path: str) -> list[dict[str, Any]]:
    """Bodies received on ``path``."""
    return [body for p, body in handler.received if p == path]


def tick(runtime: OpsRuntime, clock: ManualClock) -> Any:
    """One SLA tick a minute later."""
    clock.advance(timedelta(minutes=1))
    return run_sla_tick(runtime, now=clock.now(), budget_s=30)


def test_a_platform_failure_pages_once_and_a_customer_failure_goes_to_chat(
    quiet_sim: Simulator, clock: ManualClock, store_url: str, hooks: tuple[str, type[PathRecorder]]
) -> None:
    """Never-late failed runs alert once each, routed by attribution, in two requests a tick."""
    base, handler = hooks
    runtime = runtime_for(quiet_sim, clock, store_url, base)
    world = quiet_sim.tenant(TENANT)
    platform = world.add_run(name="Courier Group P", started_ago=timedelta(minutes=20))
    customer = world.add_run(name="Courier Group C", started_ago=timedelta(minutes=20))
    assert tick(runtime, clock).requests == 2  # steady: running + ended listings
    world.finish_run(platform.id, "failed", error="platform")
    world.finish_run(customer.id, "failed", error="customer")
    first = tick(runtime, clock)
    assert first.requests == 2  # the ended listing already has the failures
    assert first.alert_counts() == {"failed": 2}
    [page] = posts(handler, "/pd")
    assert page["event_action"] == "trigger"
    assert page["dedup_key"] == f"amperity-ops:{TENANT}:{platform.id}"
    assert page["payload"]["severity"] == "error"
    [team] = posts(handler, "/platform")
    assert team["text"].startswith(":x: FAILED: Courier Group P (platform): ")
    [chat] = posts(handler, "/chat")
    assert "FAILED: Courier Group C (customer): " in chat["text"]
    fields = [f["text"] for b in chat["blocks"] for f in b.get("fields", ())]
    assert "*Attribution*\ncustomer" in fields
    second = tick(runtime, clock)  # the ended listing overlaps: the same failures again
    assert second.requests == 2
    assert second.alert_counts() == {}
    assert len(handler.received) == 3


def test_alert_on_failed_runs_false_sends_nothing_for_a_failure(
    quiet_sim: Simulator, clock: ManualClock, store_url: str, hooks: tuple[str, type[PathRecorder]]
) -> None:
    """With failure alerts off, a failed run that was never late reaches no receiver."""
    base, handler = hooks
    runtime = runtime_for(quiet_sim, clock, store_url, base, alert_on_failed_runs=False)
    world = quiet_sim.tenant(TENANT)
    run = world.add_run(name="Courier Group P", started_ago=timedelta(minutes=20))
    tick(runtime, clock)
    world.finish_run(run.id, "failed", error="platform")
    assert tick(runtime, clock).alert_counts() == {}
    assert handler.received == []
