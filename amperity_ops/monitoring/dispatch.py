"""Turn alerts into outbox entries: routing, silences and quiet hours, in one pure function.

Without rules, silences or quiet hours every message goes to every sink, due now: exactly what
the outbox did before. A silenced message is still recorded (status ``silenced``), never sent;
a resolve is never silenced, so the run's incident closes when it ends. A message held by quiet
hours waits in the outbox until they end (``next_attempt_at``) and then goes out once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from amperity_ops.core.alerts import AlertLevel, AlertMessage
from amperity_ops.core.oncall import OutboxEntry, Silence
from amperity_ops.monitoring.routing import Route, route_alert, route_level
from amperity_ops.monitoring.sla import SlaEvaluation, SlaLevel
from amperity_ops.monitoring.stops import StopDecision
from amperity_ops.monitoring.windows import (
    active_maintenance,
    daily_occurrence,
    maintenance_note,
    quiet_until,
)

if TYPE_CHECKING:
    from amperity_ops.settings import MaintenanceWindow, OpsConfig, QuietHours

__all__ = ["hold_stop", "plan_outbox", "silence_for", "stop_holds"]


def silence_for(
    silences: Iterable[Silence], message: AlertMessage, now: datetime
) -> Silence | None:
    """The first active silence covering the message, or None (resolves are never silenced)."""
    if message.level is AlertLevel.RESOLVED:
        return None
    for silence in silences:
        if silence.active(now) and silence.covers(
            message.tenant, message.workflow_id, message.workflow_name
        ):
            return silence
    return None


def _held_until(
    message: AlertMessage, windows: Sequence[QuietHours], *, paged: bool, now: datetime
) -> datetime | None:
    """When a message held by quiet hours may go out, or None to send it now."""
    holding = [w for w in windows if daily_occurrence(w, now) is not None]
    if not holding:
        return None
    level = route_level(message)
    if all(level in w.let_through for w in holding):
        return None
    if message.level is AlertLevel.RESOLVED and paged:
        return None  # the page went out: close it now, not in the morning
    return quiet_until(windows, now)


def plan_outbox(
    messages: Iterable[AlertMessage],
    *,
    config: OpsConfig,
    all_sinks: Sequence[str],
    silences: Sequence[Silence] = (),
    paged: Collection[tuple[str, str]] = (),
    alerted: Collection[tuple[str, str]] = (),
    now: datetime,
) -> list[OutboxEntry]:
    """Decide, for each message, its sinks, and per sink whether and when it is sent.

    Args:
        messages: Alerts planned by a tick.
        config: ``alert_rules``, ``default_sinks``, ``quiet_hours``.
        all_sinks: Every sink id (the outbox names).
        silences: Silences from the store (inactive ones are ignored).
        paged: (dedup key, sink) pairs already sent or due, so a resolve of a page goes out
            at once even in quiet hours.
        alerted: (dedup key, sink) pairs sent or queued (held included): a resolve goes to
            each of these sinks too, whatever the rules say, so no incident is left open.
        now: The current time.

    Returns:
        One entry per message and sink.
    """
    entries: list[OutboxEntry] = []
    for message in messages:
        silence = silence_for(silences, message, now)
        routes = route_alert(message, rules=config.alert_rules, all_sinks=all_sinks,
                             default_sinks=config.default_sinks)
        if message.level is AlertLevel.RESOLVED:
            routed = {r.sink for r in routes}
            routes += [Route(sink, "follows its alert") for key, sink in sorted(alerted)
                       if key == message.dedup_key and sink not in routed]
        for route in routes:
            if silence is not None:
                entries.append(OutboxEntry(message, route.sink, now, "silenced",
                                           note=silence.describe(now)))
                continue
            windows: list[QuietHours] = [q for q in config.quiet_hours if route.sink in q.sinks]
            if route.quiet_hours is not None:
                windows.append(route.quiet_hours)
            until = _held_until(message, windows, paged=(message.dedup_key, route.sink) in paged,
                                now=now)
            if until is None:
                entries.append(OutboxEntry(message, route.sink, now))
            else:
                entries.append(OutboxEntry(message, route.sink, until,
                                           note=f"quiet hours until {until:%Y-%m-%d %H:%M} UTC"))
    return entries


def stop_holds(
    *,
    tenant: str,
    runs: Iterable[tuple[str, str]],
    windows: Sequence[MaintenanceWindow],
    silences: Sequence[Silence],
    now: datetime,
) -> dict[str, str]:
    """Runs for which no stop may be requested now, with the reason a person reads.

    Args:
        tenant: The tenant.
        runs: (run id, workflow name) of the runs the tick looks at.
        windows: ``maintenance_windows``.
        silences: Silences from the store; only those with ``hold_stops`` count.
        now: The current time.

    Returns:
        Run id -> ``maintenance window 'upgrade' until 04:00 Europe/Berlin`` or
        ``stops held by cli:ana until 2025-03-29 04:00 UTC: handling it``.
    """
    holds: dict[str, str] = {}
    for run_id, name in runs:
        found = active_maintenance(windows, tenant=tenant, workflow_name=name, now=now)
        if found is not None:
            holds[run_id] = maintenance_note(*found)
            continue
        for silence in silences:
            if silence.hold_stops and silence.active(now) and silence.covers(tenant, run_id, name):
                holds[run_id] = (f"stops held by {silence.requested_by} until "
                                 f"{silence.until:%Y-%m-%d %H:%M} UTC: {silence.reason}")
                break
    return holds


def hold_stop(decision: StopDecision, evaluation: SlaEvaluation, why: str) -> StopDecision:
    """The decision with the stop held back for ``why`` (a maintenance window, a silence).

    A stop that would be requested (or noted in dry run) becomes ``held``; a run not yet
    breached whose policy would stop it says it will not be stopped. Other decisions stand.
    """
    run = evaluation.run
    if decision.kind in ("request", "dry_run"):
        return StopDecision("held", f"{why}: not stopping {run.id}", f"stop held back: {why}")
    rule = evaluation.rule
    if (decision.kind == "none" and rule is not None and rule.action == "stop"
            and evaluation.level is not SlaLevel.BREACHED):
        return StopDecision("none", decision.reason, f"alert only ({why})")
    return decision


def describe_entries(entries: Sequence[OutboxEntry]) -> Mapping[str, int]:
    """Counts by fate: ``sent now``, ``held (quiet hours)``, ``silenced``."""
    counts: dict[str, int] = {}
    for entry in entries:
        fate = ("silenced" if entry.status == "silenced"
                else "held (quiet hours)" if entry.note else "sent now")
        counts[fate] = counts.get(fate, 0) + 1
    return counts
