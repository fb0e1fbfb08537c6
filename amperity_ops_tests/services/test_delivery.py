"""Alerts from the SLA tick reach a real webhook once, even when it was down at first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler

import pytest

from amperity_ops.services.sla_guard import run_sla_tick
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops_tests.receiver import serving
from amperity_ops_tests.services.helpers import TENANT, make_config, make_runtime


class _Hook(BaseHTTPRequestHandler):
    up = False
    received: list[dict] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if not type(self).up:
            self.send_response(503)
            self.end_headers()
            return
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    """A webhook receiver on a free port, down until the test raises it."""
    handler = type("Hook", (_Hook,), {"up": False, "received": []})
    with serving(handler) as base_url:
        yield f"{base_url}/hook", handler


def test_sink_down_then_up_gets_the_alert_exactly_once(
    quiet_sim: Simulator, clock: ManualClock, store_url: str, hook: tuple[str, type[_Hook]]
) -> None:
    """The breach alert is retried while the webhook is down and delivered once when it is up."""
    url, handler = hook
    config = make_config(alerts=[{"kind": "webhook", "url": url}])
    runtime = make_runtime(quiet_sim, clock, store_url, config)
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    first = run_sla_tick(runtime, now=clock.now(), budget_s=30)
    assert first.delivery is not None
    assert first.delivery.failed == 1
    assert "failed (retried later)" in first.summary()
    handler.up = True
    last = first
    for _ in range(4):  # retries back off from 30 s; a few ticks later it has gone out
        clock.advance(timedelta(seconds=61))
        last = run_sla_tick(runtime, now=clock.now(), budget_s=30, last_tick_at=last.started_at)
    assert [(m["workflow_id"], m["level"]) for m in handler.received] == [(run.id, "breached")]


def test_pagerduty_gets_trigger_escalation_and_resolve_under_one_dedup_key(
    quiet_sim: Simulator, clock: ManualClock, store_url: str, hook: tuple[str, type[_Hook]]
) -> None:
    """warning -> breached -> resolved reach PagerDuty once each, in order, with one dedup_key."""
    url, handler = hook
    handler.up = True
    policy = {"name": "slow", "match": {"name": "Nightly*"}, "warn_after": "1h",
              "max_runtime": "2h"}
    config = make_config(
        policies=[policy],
        alerts=[{"kind": "pagerduty", "routing_key": "pd-test-key", "url": url}],
    )
    runtime = make_runtime(quiet_sim, clock, store_url, config)
    world = quiet_sim.tenant(TENANT)
    run = world.add_run(name="Nightly Load", started_ago=timedelta(minutes=61))
    last = run_sla_tick(runtime, now=clock.now(), budget_s=30)
    for step in ("breach", "same", "end", "after"):
        clock.advance(timedelta(minutes=60 if step == "breach" else 1))
        if step == "end":
            world.finish_run(run.id, "succeeded")
        last = run_sla_tick(runtime, now=clock.now(), budget_s=30, last_tick_at=last.started_at)
    events = [
        (e["event_action"], e.get("payload", {}).get("severity"), e["dedup_key"])
        for e in handler.received
    ]
    key = f"amperity-ops:{TENANT}:{run.id}"
    assert events == [
        ("trigger", "warning", key),
        ("trigger", "critical", key),
        ("resolve", None, key),
    ]
    assert all(e["routing_key"] == "pd-test-key" for e in handler.received)
