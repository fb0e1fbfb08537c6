"""One SLA sensor tick for one tenant, as a pure plan: what to alert, what to stop, what to say.

The sensor (``services/sla_guard.py``) reads the runs and the store, calls
:func:`plan_sla_tick`, then does what the plan says: save the tracks, enqueue the alerts,
record and request the stops. Keeping every decision here makes the tick testable with a table.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from amperity_ops.client.models import WorkflowRun
from amperity_ops.core.alerts import AlertLevel, AlertMessage
from amperity_ops.core.wording import past_limit
from amperity_ops.monitoring.alert_state import AlertTrack, next_alert
from amperity_ops.monitoring.alert_text import run_alert_message, vanished_alert_message
from amperity_ops.monitoring.dispatch import hold_stop
from amperity_ops.monitoring.failures import failure_alerts, failure_candidates
from amperity_ops.monitoring.sla import SlaEvaluation, SlaLevel, evaluate_sla, resolve_sla
from amperity_ops.monitoring.stops import OurStop, decide_stop, ended_reason, stop_run_key

if TYPE_CHECKING:
    from amperity_ops.settings import OpsConfig

__all__ = ["MAX_LISTED_RUNS", "StopRequest", "TickPlan", "bounded", "plan_sla_tick"]

MAX_LISTED_RUNS = 10
"""Tick summaries name at most this many runs per list, then ``+N more``: a tick over
thousands of runs must stay readable (and cheap to build)."""


@dataclass(frozen=True)
class StopRequest:
    """A stop the sensor should request (or, in dry run, only record and report)."""

    tenant: str
    workflow_id: str
    workflow_name: str
    run_key: str
    """``stop:<tenant>:<workflow id>``: Dagster's run key for the stop job."""
    reason: str
    dry_run: bool = False


@dataclass
class TickPlan:
    """Everything one tick decided for one tenant."""

    tenant: str
    evaluations: list[SlaEvaluation] = field(default_factory=list)
    """Every non-terminal run looked at, longest runtime first."""
    alerts: list[AlertMessage] = field(default_factory=list)
    """Messages to enqueue (the outbox sends each to every sink once)."""
    track_updates: dict[str, AlertTrack] = field(default_factory=dict)
    """Alert tracks to save, by run id (only those that changed)."""
    stop_requests: list[StopRequest] = field(default_factory=list)
    dry_runs: list[StopRequest] = field(default_factory=list)
    """Stops that dry-run mode held back: record them so each is reported once."""
    notes: list[str] = field(default_factory=list)
    """Why a wanted stop did not happen (dry run, cap, disabled, state), for the tick log."""
    run_lines: list[str] = field(default_factory=list)
    """One line per run alerted on this tick, breached first: ``BREACHED <name> <id> 29m29s >
    10m (policy:x) -> stop requested``, ``resolved: <name> <id> (ended: succeeded)``. Every
    line is kept; whoever shows them shows :func:`bounded` ones."""
    summary: str = ""
    """One paragraph: counts, the runs alerted on (bounded), stops, notes (a SkipReason)."""
    headline: str = ""
    """The summary without the run lines (a log shows those on lines of their own)."""

    @property
    def has_actions(self) -> bool:
        """True when there is an alert to send or a stop to request."""
        return bool(self.alerts or self.stop_requests)

    @property
    def skip_reason(self) -> str | None:
        """The summary when there is nothing to do (a Dagster ``SkipReason``), else None."""
        return None if self.has_actions else self.summary


def plan_sla_tick(
    *,
    tenant: str,
    runs: Iterable[WorkflowRun],
    tracks: Mapping[str, AlertTrack],
    config: OpsConfig,
    now: datetime,
    baseline_runtimes_s: Mapping[str, Sequence[float]] | None = None,
    stops_in_last_hour: int = 0,
    stops_requested: Collection[str] = (),
    dry_runs_noted: Collection[str] = (),
    listing_complete: bool = True,
    our_stops: Mapping[str, OurStop] | None = None,
    stop_holds: Mapping[str, str] | None = None,
    failures_alerted: Collection[str] = (),
) -> TickPlan:
    """Decide one tick: evaluate each run's SLA, advance its alert track, decide stops.

    Args:
        tenant: The tenant's name (as in ``OpsConfig.tenants``; used in keys and links).
        runs: The runs observed this tick: the active ones, plus any re-read tracked run (a
            terminal one is resolved). An unknown state is evaluated but never resolved and
            never stopped.
        tracks: Open alert tracks of this tenant, by run id (from the store).
        config: Policies, auto-stop, baseline.
        now: The current time.
        baseline_runtimes_s: Recent successful runtimes per workflow name (seconds, newest
            first), for the learned baseline.
        stops_in_last_hour: Real stops of this tenant recorded in the past hour.
        stops_requested: Run ids with a real stop already requested (never asked again).
        dry_runs_noted: Run ids with a dry-run note already recorded (not noted again, but
            stopped for real once dry run is off).
        listing_complete: True when ``runs`` holds every active run of the tenant, so a
            tracked run missing from it has ended or vanished. Pass False after a partial
            read (time budget): missing runs are then left alone.
        our_stops: Real stops amperity-ops requested, by run id (at least for the ended
            runs with an open alert), so RESOLVED says "stopped by amperity-ops (...)".
        stop_holds: Runs for which no stop may be requested, with why (a maintenance window,
            a silence with ``hold_stops``; :func:`~amperity_ops.monitoring.dispatch.stop_holds`).
        failures_alerted: Dedup keys already in the outbox among the runs that ended failed
            (``monitoring.failures``): those get no failure alert again.

    Returns:
        The plan.
    """
    plan = TickPlan(tenant=tenant)
    link_for: Callable[[str], str | None]
    try:
        link_for = config.tenant(tenant).run_link
    except KeyError:
        link_for = _no_link
    baselines = baseline_runtimes_s or {}
    requested = set(stops_requested)
    noted = set(dry_runs_noted)
    observed: dict[str, WorkflowRun] = {run.id: run for run in runs}
    unknown = 0
    lines: list[tuple[SlaLevel, str]] = []  # ranked by level below, not by the text

    ours = our_stops or {}
    for run in observed.values():
        track = tracks.get(run.id)
        link = link_for(run.id)
        rule = resolve_sla(run, config, baselines.get(run.name, ()))
        evaluation = evaluate_sla(run, rule, now)
        if run.state.is_terminal:
            step = next_alert(track, SlaLevel.OK, ended=True)
            if step.send is not None:
                ended = ended_reason(evaluation, ours.get(run.id))
                plan.alerts.append(run_alert_message(
                    tenant, run, evaluation, step.send, now=now, link=link, ended_reason=ended))
                lines.append((SlaLevel.OK, f"resolved: {run.name} {run.id} ({ended})"))
            if step.track is not None and step.track != track:
                plan.track_updates[run.id] = step.track
            continue
        unknown += run.state.is_unknown
        plan.evaluations.append(evaluation)
        # Decide the stop first, so the alert says what was done rather than what might be.
        decision = decide_stop(
            evaluation, config.auto_stop,
            stops_in_last_hour=stops_in_last_hour + len(plan.stop_requests),
            already_requested=run.id in requested,
            already_noted_dry_run=run.id in noted,
        )
        if stop_holds and run.id in stop_holds:
            decision = hold_stop(decision, evaluation, stop_holds[run.id])
        step = next_alert(track, evaluation.level, ended=False, workflow_name=run.name)
        if step.send is not None:
            plan.alerts.append(run_alert_message(tenant, run, evaluation, step.send,
                                                 now=now, link=link, action=decision.action))
            lines.append((evaluation.level, _run_line(evaluation, decision.action)))
        if step.track is not None and step.track != track:
            plan.track_updates[run.id] = step.track
        if decision.kind in ("request", "dry_run"):
            request = StopRequest(tenant, run.id, run.name, stop_run_key(tenant, run.id),
                                  decision.reason, dry_run=decision.kind == "dry_run")
            (plan.dry_runs if request.dry_run else plan.stop_requests).append(request)
            (noted if request.dry_run else requested).add(run.id)
        if decision.kind in ("dry_run", "held"):
            plan.notes.append(decision.reason)

    if listing_complete:
        for run_id, track in tracks.items():
            if run_id in observed or track.level is AlertLevel.RESOLVED:
                continue
            step = next_alert(track, SlaLevel.OK, ended=True)
            if step.send is not None:
                plan.alerts.append(vanished_alert_message(
                    tenant, run_id, track.workflow_name, now=now, link=link_for(run_id)))
                lines.append((SlaLevel.OK, f"resolved: {track.workflow_name or run_id} {run_id} "
                                           "(no longer listed)"))
            if step.track is not None:
                plan.track_updates[run_id] = step.track

    if config.alert_on_failed_runs:
        failed = failure_alerts(
            tenant, failure_candidates(observed.values(), tracked=tracks, now=now),
            already_alerted=failures_alerted, now=now, link_for=link_for)
        plan.alerts += failed
        # Ranked with the breaches: a failure is as urgent (quiet hours let both through).
        lines += [(SlaLevel.BREACHED, f"FAILED {a.workflow_name} {a.workflow_id} "
                                      f"({a.attribution or 'no attribution'})") for a in failed]

    plan.evaluations.sort(key=lambda e: e.runtime, reverse=True)
    lines.sort(key=lambda pair: -pair[0].rank)  # stable: breached, then warning, then the rest
    plan.run_lines = [line for _, line in lines]
    plan.summary = _summarise(plan, unknown, listing_complete)
    return plan


def _no_link(_: str) -> str | None:
    return None


def bounded(items: Sequence[str], limit: int = MAX_LISTED_RUNS) -> list[str]:
    """The first ``limit`` items, then ``+N more`` when there were more."""
    head = list(items[:limit])
    if len(items) > limit:
        head.append(f"+{len(items) - limit} more")
    return head


def _run_line(evaluation: SlaEvaluation, action: str) -> str:
    """``BREACHED Daily Ecommerce Sources wf-1 29m29s > 10m (policy:x) -> stop requested``."""
    run, rule = evaluation.run, evaluation.rule
    limit = None
    if rule is not None:
        limit = rule.max_runtime if evaluation.level is SlaLevel.BREACHED else rule.warn_after
    label = rule.label if rule is not None else "no rule"
    return (f"{evaluation.level.value.upper()} {run.name} {run.id} "
            f"{past_limit(evaluation.runtime, limit)} ({label}) -> {action}")


def _summarise(plan: TickPlan, unknown: int, complete: bool) -> str:
    evaluations = plan.evaluations
    with_sla = sum(e.rule is not None for e in evaluations)
    warning = sum(e.level is SlaLevel.WARNING for e in evaluations)
    breached = sum(e.level is SlaLevel.BREACHED for e in evaluations)
    parts = [f"{plan.tenant}: looked at {len(evaluations)} active run(s), {with_sla} with an SLA"]
    if unknown:
        parts.append(f"{unknown} in an unrecognised state (never stopped)")
    start_unknown = sum(e.run.start_unknown for e in evaluations)
    if start_unknown:
        parts.append(f"{start_unknown} with start unknown (no SLA, never stopped)")
    parts.append(f"{warning} warning, {breached} breached")
    if plan.alerts:
        by_level: dict[str, int] = {}
        for alert in plan.alerts:
            by_level[alert.level.value] = by_level.get(alert.level.value, 0) + 1
        parts.append("alerts: " + ", ".join(f"{n} {lvl}" for lvl, n in by_level.items()))
    runs_at = len(parts)  # the run lines go here in the summary, not in the headline
    if plan.stop_requests:
        parts.append("stop requested: " + ", ".join(
            bounded([r.workflow_id for r in plan.stop_requests])))
    if plan.dry_runs:
        parts.append("dry run, would stop: " + ", ".join(
            bounded([r.workflow_id for r in plan.dry_runs])))
    if not complete:
        parts.append("listing incomplete (time budget): vanished runs checked next tick")
    if not plan.has_actions:
        parts.append("nothing to alert or stop")
    notes = (". " + " ".join(bounded(plan.notes))) if plan.notes else ""
    plan.headline = "; ".join(parts) + notes
    return "; ".join([*parts[:runs_at], *bounded(plan.run_lines), *parts[runs_at:]]) + notes
