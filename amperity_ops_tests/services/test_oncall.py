"""Routing, silences, quiet hours, maintenance windows and the digest, end to end.

Each test runs SLA ticks over the simulator and delivers to real HTTP receivers on loopback
(PagerDuty and Slack paths of one recording server), with a SQLite store on disk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from amperity_ops.services.oncall import list_silences, silence_alerts, unsilence
from amperity_ops.services.poll import poll_workflow_runs
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.sla_guard import run_sla_tick
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops_tests.receiver import PathRecorder, recording
from amperity_ops_tests.services.helpers import STOP_POLICY, TENANT, make_config, make_runtime

ALERT_ONLY = {**STOP_POLICY, "action": "alert"}


@pytest.fixture
def hooks() -> Iterator[tuple[str, type[PathRecorder]]]:
    """One loopback server; PagerDuty posts to /pd, Slack to /slack."""
    with recording() as served:
        yield served


def runtime_for(sim: Simulator, clock: ManualClock, url: str, base: str,
                **extra: Any) -> OpsRuntime:
    extra.setdefault("policies", [ALERT_ONLY])
    config = make_config(alerts=[
        {"kind": "pagerduty", "routing_key": "R0UT1NG", "url": f"{base}/pd"},
        {"kind": "slack", "webhook_url": f"{base}/slack"},
    ], **extra)
    return make_runtime(sim, clock, url, config)


def events(handler: type[PathRecorder], path: str) -> list[dict[str, Any]]:
    return [body for p, body in handler.received if p == path]


def tick(runtime: OpsRuntime, clock: ManualClock, minutes: float = 1) -> Any:
    clock.advance(timedelta(minutes=minutes))
    return run_sla_tick(runtime, now=clock.now(), budget_s=30)


BREACHES_PAGE = [{"name": "pages", "match": {"level": ["breached", "failed"]},
                  "sinks": ["pagerduty"], "continue": True},
                 {"name": "chat", "match": {"tenant": TENANT}, "sinks": ["slack"]}]


def test_rules_page_breaches_and_post_the_rest(
    quiet_sim: Simulator, clock: ManualClock, store_url: str, hooks: tuple[str, type[PathRecorder]]
) -> None:
    """A warning reaches Slack only; the breach pages PagerDuty and Slack; the resolve both."""
    base, handler = hooks
    sim = quiet_sim
    runtime = runtime_for(sim, clock, store_url, base, alert_rules=BREACHES_PAGE)
    run = sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(minutes=95))
    tick(runtime, clock)
    assert [e["text"].split()[:2] for e in events(handler, "/slack")] == [[":warning:", "WARNING:"]]
    assert events(handler, "/pd") == []
    tick(runtime, clock, minutes=30)
    assert [e["event_action"] for e in events(handler, "/pd")] == ["trigger"]
    assert len(events(handler, "/slack")) == 2
    sim.tenant(TENANT).finish_run(run.id, "succeeded")
    tick(runtime, clock)
    assert [e["event_action"] for e in events(handler, "/pd")] == ["trigger", "resolve"]
    assert len(events(handler, "/slack")) == 3


def test_silence_acknowledges_the_page_holds_later_alerts_and_lets_the_resolve_out(
    quiet_sim: Simulator, clock: ManualClock, store_url: str, hooks: tuple[str, type[PathRecorder]]
) -> None:
    """Silencing a paged run acknowledges it in PagerDuty; the run's resolve still goes out."""
    base, handler = hooks
    sim = quiet_sim
    runtime = runtime_for(sim, clock, store_url, base,
                          alert_rules=[{"match": {"level": "warning"}, "sinks": ["pagerduty"]}])
    run = sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(minutes=95))
    tick(runtime, clock)
    assert [e["event_action"] for e in events(handler, "/pd")] == ["trigger"]
    outcome = silence_alerts(runtime, run_id=run.id, duration=timedelta(hours=2),
                             reason="ana is on it", requested_by="cli:ana", now=clock.now())
    assert outcome.acknowledged == 1
    tick(runtime, clock)
    pd = events(handler, "/pd")
    assert [e["event_action"] for e in pd] == ["trigger", "acknowledge"]
    assert pd[1]["dedup_key"] == pd[0]["dedup_key"]
    tick(runtime, clock, minutes=30)  # breached: recorded, not sent (to either sink)
    assert len(events(handler, "/pd")) == 2
    assert events(handler, "/slack") == []
    assert [i.status for i in runtime.store.outbox_items() if i.message.level.value == "breached"
            and i.sink == "pagerduty"] == ["silenced"]
    sim.tenant(TENANT).finish_run(run.id, "succeeded")
    tick(runtime, clock)
    assert [e["event_action"] for e in events(handler, "/pd")][-1] == "resolve"
    assert [e["text"].split()[1] for e in events(handler, "/slack")] == ["RESOLVED:"]
    (listed,) = list_silences(runtime, now=clock.now())
    assert "silenced by cli:ana until" in listed.describe(clock.now())


def test_a_silence_expires_on_its_own_and_can_be_lifted(
    quiet_sim: Simulator, clock: ManualClock, store_url: str, hooks: tuple[str, type[PathRecorder]]
) -> None:
    """Alerts raised after the silence ends are sent; lifting ends it at once."""
    base, handler = hooks
    sim = quiet_sim
    runtime = runtime_for(sim, clock, store_url, base, alert_rules=BREACHES_PAGE)
    sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(minutes=95))
    sim.tenant(TENANT).add_run(name="Courier Group B", started_ago=timedelta(minutes=95))
    silence_alerts(runtime, workflow="Courier Group A", duration=timedelta(minutes=20),
                   reason="known", requested_by="cli:ana", now=clock.now())
    lifted = silence_alerts(runtime, workflow="Courier Group B", duration=timedelta(hours=3),
                            reason="known", requested_by="cli:ana", now=clock.now())
    tick(runtime, clock)
    assert events(handler, "/slack") == []  # both warnings silenced
    unsilence(runtime, lifted.silence.id, by="cli:bo", now=clock.now())
    tick(runtime, clock, minutes=30)  # A's silence expired, B's was lifted: breaches page
    titles = sorted(e["payload"]["summary"].split(":")[0] for e in events(handler, "/pd"))
    assert titles == ["BREACHED", "BREACHED"]
    assert len(events(handler, "/pd")) == 2


def test_hold_stops_and_maintenance_windows_keep_the_sensor_from_stopping(
    quiet_sim: Simulator, clock: ManualClock, store_url: str, hooks: tuple[str, type[PathRecorder]]
) -> None:
    """A plain silence still stops; --hold-stops and a maintenance window do not, and say why."""
    base, handler = hooks
    sim = quiet_sim
    window = {"name": "upgrade", "workflow": "Courier Group M*",
              "start": (clock.now() - timedelta(hours=1)).isoformat(),
              "end": (clock.now() + timedelta(hours=2)).isoformat()}
    runtime = runtime_for(sim, clock, store_url, base, policies=[STOP_POLICY],
                          maintenance_windows=[window])
    tenant = sim.tenant(TENANT)
    plain = tenant.add_run(name="Courier Group P", started_ago=timedelta(hours=3))
    held = tenant.add_run(name="Courier Group H", started_ago=timedelta(hours=3))
    tenant.add_run(name="Courier Group M", started_ago=timedelta(hours=3))
    for run in (plain, held):
        silence_alerts(runtime, run_id=run.id, duration=timedelta(hours=1), reason="on it",
                       requested_by="cli:ana", hold_stops=run is held, now=clock.now())
    result = tick(runtime, clock)
    assert [s.workflow_id for s in result.stop_requests] == [plain.id]
    summary = result.summary()
    assert "stops held by cli:ana until" in summary
    assert "maintenance window 'upgrade' until" in summary
    slack = {e["text"].split(" ", 2)[2]: e for e in events(handler, "/slack")}
    (maint_alert,) = [e for t, e in slack.items() if "Courier Group M" in t]
    assert "stop held back: maintenance window 'upgrade'" in json.dumps(maint_alert)


def test_quiet_hours_hold_warnings_until_morning_and_deliver_them_once(
    quiet_sim: Simulator, clock: ManualClock, store_url: str, hooks: tuple[str, type[PathRecorder]]
) -> None:
    """At 03:00 Berlin a warning waits for 07:00, goes out then, once; a breach pages at once."""
    base, handler = hooks
    sim = quiet_sim
    quiet = [{"sinks": ["slack", "pagerduty"], "start": "22:00", "end": "07:00",
              "time_zone": "Europe/Berlin"}]
    runtime = runtime_for(sim, clock, store_url, base, quiet_hours=quiet)
    sim.tenant(TENANT).add_run(name="Courier Group W", started_ago=timedelta(minutes=95),
                               warn_after_ms=None)
    tick(runtime, clock)  # 02:01Z = 03:01 Berlin
    assert handler.received == []
    assert {i.next_attempt_at.hour for i in runtime.store.outbox_items()} == {6}  # 07:00 CET
    sim.tenant(TENANT).add_run(name="Courier Group B", started_ago=timedelta(hours=3))
    tick(runtime, clock)
    assert [p for p, _ in handler.received] in (["/pd", "/slack"], ["/slack", "/pd"])
    tick(runtime, clock, minutes=60 * 4)  # 06:03Z = 07:03 Berlin: the held warnings go out
    warnings = [b for _, b in handler.received if "WARNING" in json.dumps(b)]
    assert len(warnings) == 2  # slack and pagerduty, once each
    tick(runtime, clock, minutes=5)
    assert len([b for _, b in handler.received if "WARNING" in json.dumps(b)]) == 2


def test_digest_is_sent_once_a_day_across_restarts(
    quiet_sim: Simulator, clock: ManualClock, store_url: str, hooks: tuple[str, type[PathRecorder]],
    tmp_path: Path,
) -> None:
    """The digest goes out at its time with counts and links, once, even from a fresh runtime."""
    base, handler = hooks
    sim = quiet_sim
    extra = {"digest": {"at": "02:30", "time_zone": "UTC", "sinks": ["slack"]},
             "alert_rules": [{"match": {}, "sinks": ["pagerduty"]}]}
    runtime = runtime_for(sim, clock, store_url, base, **extra)
    late = sim.tenant(TENANT).add_run(name="Courier Group L", started_ago=timedelta(minutes=95))
    sim.tenant(TENANT).add_run(name="Courier Group F", state="failed",
                               started_ago=timedelta(hours=1), ended_ago=timedelta(minutes=10))
    with runtime.client(TENANT) as client:  # what the polling asset stores every few minutes
        poll_workflow_runs(client, runtime.store, tenant=TENANT, now=clock.now())
    tick(runtime, clock, minutes=20)  # 02:20: not yet
    assert events(handler, "/slack") == []
    tick(runtime, clock, minutes=10)  # 02:30
    (digest,) = events(handler, "/slack")
    assert digest["text"].startswith(":white_check_mark: DIGEST 2026-11-01: 1 late, 1 failed")
    body = json.dumps(digest)
    assert late.id in body
    assert "https://acme.amperity.example" in body  # the tenant's app link to each run
    runtime.close()
    restarted = runtime_for(sim, clock, store_url, base, **extra)  # same store, fresh process
    tick(restarted, clock, minutes=5)
    assert len(events(handler, "/slack")) == 1
    tick(restarted, clock, minutes=24 * 60)  # the next day: its own digest, once
    assert [e["text"].split(":")[2].strip()[:17] for e in events(handler, "/slack")] == [
        "DIGEST 2026-11-01", "DIGEST 2026-11-02"]
