"""plan_sla_tick over several ticks: alerts once per level, stops once, unknown never stopped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from amperity_ops.client.models import WorkflowRun
from amperity_ops.core import AlertLevel, Requester
from amperity_ops.monitoring import AlertTrack, OurStop, TickPlan, plan_sla_tick
from amperity_ops.settings import OpsConfig
from amperity_ops_tests.monitoring.helpers import NOW, STOP_POLICY, config, run

AUTO = {"enabled": True, "max_stops_per_hour": 5}


class World:
    """Carries tracks and the stop ledger between ticks, as the store would."""

    def __init__(self, cfg: OpsConfig) -> None:
        self.cfg = cfg
        self.tracks: dict[str, AlertTrack] = {}
        self.stopped: set[str] = set()
        self.noted: set[str] = set()

    def tick(self, runs: list[WorkflowRun], **kwargs: Any) -> TickPlan:
        plan = plan_sla_tick(tenant="acme", runs=runs, tracks=self.tracks, config=self.cfg,
                             now=NOW, stops_in_last_hour=len(self.stopped),
                             stops_requested=self.stopped, dry_runs_noted=self.noted, **kwargs)
        self.tracks.update(plan.track_updates)
        self.tracks = {k: v for k, v in self.tracks.items() if v.level is not AlertLevel.RESOLVED}
        self.stopped |= {r.workflow_id for r in plan.stop_requests}
        self.noted |= {r.workflow_id for r in plan.dry_runs}
        return plan


def test_two_ticks_ask_for_one_stop() -> None:
    """A breached stop-policy run gets one breached alert and one stop request, not two."""
    world = World(config(policies=[STOP_POLICY], auto_stop=AUTO))
    late = run("wf-9", runtime=timedelta(hours=3))
    first, second = world.tick([late]), world.tick([late])
    assert [(a.level, a.workflow_id) for a in first.alerts] == [(AlertLevel.BREACHED, "wf-9")]
    assert [(s.run_key, s.dry_run) for s in first.stop_requests] == [("stop:acme:wf-9", False)]
    assert second.alerts == []
    assert second.stop_requests == []
    assert second.skip_reason is not None
    assert "1 breached" in second.skip_reason


def test_alert_carries_numbers_and_link() -> None:
    """The breached message has runtime, thresholds, over-by, the dedup key and the app link."""
    plan = World(config(policies=[STOP_POLICY])).tick([run("wf-9", runtime=timedelta(hours=3))])
    (alert,) = plan.alerts
    assert alert.dedup_key == "amperity-ops:acme:wf-9"
    assert (alert.runtime_s, alert.warn_after_s, alert.max_runtime_s, alert.over_by_s) == (
        10800, 5400, 7200, 3600)
    assert alert.link == "https://acme.amperity.test/#/workflows/wf-9"
    assert "3h 00m" in alert.title
    assert "https://acme.amperity.test/#/workflows/wf-9" in alert.text


def test_escalation_then_resolution_share_dedup_key() -> None:
    """warning -> breached -> resolved (run ended) are three messages on one dedup key."""
    world = World(config(policies=[STOP_POLICY]))
    levels = []
    for minutes, state, ended in [(100, "running", False), (130, "running", False),
                                  (140, "succeeded", True), (150, "succeeded", True)]:
        plan = world.tick([run("wf-1", runtime=timedelta(minutes=minutes), state=state,
                               ended=ended)])
        levels += [(a.level, a.dedup_key) for a in plan.alerts]
    assert levels == [(AlertLevel.WARNING, "amperity-ops:acme:wf-1"),
                      (AlertLevel.BREACHED, "amperity-ops:acme:wf-1"),
                      (AlertLevel.RESOLVED, "amperity-ops:acme:wf-1")]


def test_vanished_run_is_resolved_only_when_listing_complete() -> None:
    """A tracked run missing from a complete listing resolves; a partial listing leaves it."""
    world = World(config(policies=[STOP_POLICY]))
    world.tick([run("wf-1", runtime=timedelta(minutes=100))])
    partial = world.tick([], listing_complete=False)
    assert partial.alerts == []
    assert "listing incomplete" in partial.summary
    complete = world.tick([])
    assert [(a.level, a.workflow_id) for a in complete.alerts] == [(AlertLevel.RESOLVED, "wf-1")]
    assert "no longer listed" in complete.alerts[0].title


def test_unknown_state_alerts_but_never_stops_or_resolves() -> None:
    """A run in an unrecognised state is alerted on, never stopped, never resolved as ended."""
    world = World(config(policies=[STOP_POLICY], auto_stop=AUTO))
    odd = run("wf-7", state="Quantum Tunneling", runtime=timedelta(hours=5))
    plans = [world.tick([odd]) for _ in range(3)]
    assert [a.level for p in plans for a in p.alerts] == [AlertLevel.BREACHED]
    assert all(p.stop_requests == [] for p in plans)
    assert "not a stoppable state" in plans[0].summary
    assert "1 in an unrecognised state" in plans[0].summary


def test_dry_run_reports_once_and_requests_nothing() -> None:
    """Dry run yields a 'would have stopped' note once per run and no stop request."""
    world = World(config(policies=[STOP_POLICY], auto_stop={**AUTO, "dry_run": True}))
    late = run("wf-3", runtime=timedelta(hours=3))
    first, second = world.tick([late]), world.tick([late])
    assert first.stop_requests == []
    assert [r.dry_run for r in first.dry_runs] == [True]
    assert "would have stopped" in first.summary
    assert second.dry_runs == []


def test_dry_run_note_does_not_block_the_real_stop_later() -> None:
    """A run noted in dry run is stopped for real, once, when dry run is turned off."""
    world = World(config(policies=[STOP_POLICY], auto_stop={**AUTO, "dry_run": True}))
    late = run("wf-3", runtime=timedelta(hours=3))
    assert [r.workflow_id for r in world.tick([late]).dry_runs] == ["wf-3"]
    world.cfg = config(policies=[STOP_POLICY], auto_stop=AUTO)
    real = world.tick([late])
    assert [(s.workflow_id, s.dry_run) for s in real.stop_requests] == [("wf-3", False)]
    assert world.tick([late]).stop_requests == []


def test_hourly_cap_holds_within_one_tick_and_across_ticks() -> None:
    """max_stops_per_hour bounds the stops planned in one tick plus those already made."""
    world = World(config(policies=[STOP_POLICY], auto_stop={**AUTO, "max_stops_per_hour": 2}))
    late = [run(f"wf-{i}", runtime=timedelta(hours=3)) for i in range(4)]
    first = world.tick(late)
    assert [s.workflow_id for s in first.stop_requests] == ["wf-0", "wf-1"]
    assert sum("hourly cap reached" in n for n in first.notes) == 2
    assert world.tick(late).stop_requests == []


def test_quiet_tick_says_what_it_looked_at() -> None:
    """With nothing to do, the skip reason counts the runs looked at and those with an SLA."""
    plan = World(config(policies=[STOP_POLICY])).tick(
        [run("wf-1"), run("wf-2", name="Other", type_="x/run")])
    assert plan.skip_reason == (
        "acme: looked at 2 active run(s), 1 with an SLA; 0 warning, 0 breached; "
        "nothing to alert or stop")


def test_run_ended_without_alert_is_silent() -> None:
    """A run that ends without ever being late produces no message and no track (a failed
    one alerts only with ``alert_on_failed_runs``, on by default: tests/test_failures.py)."""
    plan = World(config(policies=[STOP_POLICY], alert_on_failed_runs=False)).tick(
        [run("wf-1", state="failed", ended=True, runtime=timedelta(hours=5))])
    assert plan.alerts == []
    assert plan.track_updates == {}


def test_thousand_active_runs_are_all_evaluated_within_the_hourly_cap() -> None:
    """A tick over 1,000 active runs evaluates each and asks for no more stops than the cap.

    Its speed is measured by bench/sensor_tick.py, not asserted here (timed tests flake).
    """
    world = World(config(policies=[STOP_POLICY], auto_stop=AUTO))
    runs = [run(f"wf-{i}", runtime=timedelta(minutes=i % 200)) for i in range(1000)]
    plan = world.tick(runs)
    assert len(plan.evaluations) == 1000
    assert len(plan.stop_requests) == 5  # the hourly cap


def _fact(plan: TickPlan, label: str) -> str | None:
    (alert,) = plan.alerts
    return dict(alert.facts).get(label)


def test_breached_alert_says_the_stop_was_requested() -> None:
    """Auto-stop on: the BREACHED alert's Action is 'stop requested', not a hedge."""
    plan = World(config(policies=[STOP_POLICY], auto_stop=AUTO)).tick(
        [run("wf-9", runtime=timedelta(hours=3))])
    assert _fact(plan, "Action") == "stop requested"
    assert "Action: stop requested" in plan.alerts[0].text
    assert "if auto-stop is enabled" not in plan.alerts[0].text


def test_breached_alert_says_dry_run_and_cap_held_the_stop_back() -> None:
    """Dry run and the hourly cap each say they held the stop back; no policy: alert only."""
    dry = World(config(policies=[STOP_POLICY], auto_stop={**AUTO, "dry_run": True})).tick(
        [run("wf-9", runtime=timedelta(hours=3))])
    assert _fact(dry, "Action") == "stop held back: dry run"
    capped = World(config(policies=[STOP_POLICY], auto_stop={**AUTO, "max_stops_per_hour": 1}))
    capped.stopped.add("wf-other")
    assert _fact(capped.tick([run("wf-9", runtime=timedelta(hours=3))]),
                 "Action") == "stop held back: hourly cap (1/h)"
    alert_only = World(config(policies=[{**STOP_POLICY, "action": "alert"}])).tick(
        [run("wf-9", runtime=timedelta(hours=3))])
    assert _fact(alert_only, "Action") == "alert only"


def test_resolved_alert_says_amperity_ops_stopped_it() -> None:
    """RESOLVED of a run our ledger stopped names us, the policy and how far over it ran."""
    world = World(config(policies=[STOP_POLICY], auto_stop=AUTO))
    world.tick([run("wf-9", runtime=timedelta(hours=2, minutes=19))])
    ours = {"wf-9": OurStop(Requester.sensor("amperity_workflow_sla_sensor"),
                            "SLA policy courier: runtime 2h 19m over max 2h 00m")}
    plan = world.tick([run("wf-9", state="stopped", ended=True,
                           runtime=timedelta(hours=2, minutes=19))], our_stops=ours)
    (alert,) = plan.alerts
    assert alert.title == ("RESOLVED: Courier Group Nightly stopped by amperity-ops "
                           "(sensor, SLA policy courier, 19m over) after 2h 19m")
    assert "Action" not in dict(alert.facts)
    assert plan.run_lines == [
        "resolved: Courier Group Nightly wf-9 (stopped by amperity-ops "
        "(sensor, SLA policy courier, 19m over))"]


def test_resolved_alert_of_an_external_stop_says_ended_stopped() -> None:
    """A run stopped by someone else reads 'ended: stopped', never 'ended stopped'."""
    world = World(config(policies=[STOP_POLICY]))
    world.tick([run("wf-9", runtime=timedelta(hours=3))])
    plan = world.tick([run("wf-9", state="stopped", ended=True, runtime=timedelta(hours=3))])
    assert plan.alerts[0].title == "RESOLVED: Courier Group Nightly ended: stopped after 3h 00m"


def test_summary_lists_the_runs_alerted_on() -> None:
    """The tick summary names each alerted run with runtime, limit, rule and action."""
    world = World(config(policies=[STOP_POLICY], auto_stop=AUTO))
    plan = world.tick([run("wf-9", runtime=timedelta(hours=2, minutes=29, seconds=29)),
                       run("wf-8", runtime=timedelta(minutes=95))])
    assert plan.run_lines == [
        "BREACHED Courier Group Nightly wf-9 2h29m > 2h (policy:courier) -> stop requested",
        "WARNING Courier Group Nightly wf-8 1h35m > 1h30m (policy:courier) "
        "-> stop at max runtime 2h",
    ]
    assert plan.run_lines[0] in plan.summary
    assert plan.run_lines[0] not in plan.headline
    gone = world.tick([run("wf-9", state="succeeded", ended=True, runtime=timedelta(hours=3))])
    assert "resolved: Courier Group Nightly wf-9 (ended: succeeded)" in gone.summary


def test_summary_of_a_thousand_breaches_stays_bounded() -> None:
    """Over 1,000 breached runs the summary names 10 runs, then '+N more'."""
    world = World(config(policies=[STOP_POLICY], auto_stop=AUTO))
    plan = world.tick([run(f"wf-{i}", runtime=timedelta(hours=3)) for i in range(1000)])
    assert len(plan.run_lines) == 1000
    assert plan.summary.count("BREACHED ") == 10
    assert "+990 more" in plan.summary
    assert len(plan.summary) < 3000
