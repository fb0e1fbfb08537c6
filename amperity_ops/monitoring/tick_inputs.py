"""What one SLA tick reads and how it words its stops: pure choices around ``plan_sla_tick``.

How far back to list ended runs, which stored active runs to re-read by id, how a stop is
worded, how a dry-run note ends, which ledger rows and stop requests a plan becomes, and which
recorded stops were lost. ``services/sla_guard.py``
fetches, calls these, and applies what they return.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from amperity_ops.client.models import WorkflowRun
from amperity_ops.core import NewStop, Requester, StopResult
from amperity_ops.core.wording import sla_stop_reason
from amperity_ops.monitoring.sla import SlaEvaluation
from amperity_ops.monitoring.tick import StopRequest, TickPlan
from amperity_ops.monitoring.tick_report import StopToRequest

__all__ = [
    "ENDED_OVERLAP",
    "FIRST_TICK_ENDED_WINDOW",
    "LOST_STOP_AFTER",
    "MAX_ENDED_WINDOW",
    "DryRunEnding",
    "ReReads",
    "StopLedgerPlan",
    "dry_run_ending",
    "ended_from",
    "lost_stops",
    "plan_rereads",
    "plan_stop_ledger",
    "stop_reason",
]

ENDED_OVERLAP = timedelta(minutes=2)
"""The ended-runs listing reaches this far before the previous tick (clock skew, slow ticks)."""
FIRST_TICK_ENDED_WINDOW = timedelta(minutes=10)
"""Without a previous tick, runs that ended this recently are read to resolve their alerts."""
MAX_ENDED_WINDOW = timedelta(hours=1)
"""The ended-runs listing never reaches further back than this."""
LOST_STOP_AFTER = timedelta(minutes=10)
"""A stop the sensor recorded, for which Dagster has no run with its run key this long after,
was lost (the tick's result never reached the daemon) and is requested once more."""


def ended_from(now: datetime, last_tick_at: datetime | None) -> datetime:
    """Where the ended-runs listing starts: the previous tick minus an overlap, at most an hour.

    After a long pause (sensor off for a day) a day of ended runs is not paged through: the
    few alerted ones that ended meanwhile are re-read by id instead.
    """
    start = (last_tick_at - ENDED_OVERLAP) if last_tick_at else now - FIRST_TICK_ENDED_WINDOW
    return max(start, now - MAX_ENDED_WINDOW)


@dataclass
class ReReads:
    """Stored active runs the listings did not return, and which of them to re-read by id."""

    unlisted: list[WorkflowRun] = field(default_factory=list)
    """In the store's order (stalest first); evaluated as stored unless re-read."""
    reread: set[str] = field(default_factory=set)
    """Alerted runs to re-read by id, in the order of ``unlisted``, while time remains."""
    skipped: int = 0
    """Alerted runs not re-read because the listing was cut short."""


def plan_rereads(
    stored_stalest_first: Iterable[WorkflowRun],
    listed: Collection[str],
    alerted: Collection[str],
    *,
    listing_complete: bool,
) -> ReReads:
    """Which stored active runs to re-read: alerted ones, stalest first, after a full listing.

    An alerted run that left the running list without showing up as ended is re-read so its
    alert follows (resolved, escalated or vanished); any other stored active run is evaluated
    as last seen (paused, running with failures, finalizing ...). The caller re-reads in order
    while its time budget lasts and counts the rest as skipped.

    Args:
        stored_stalest_first: The store's active runs, least recently seen first.
        listed: Ids the two listings returned this tick.
        alerted: Ids with an open alert track.
        listing_complete: False when the time budget cut the listing short: nothing is re-read.
    """
    plan = ReReads()
    for known in stored_stalest_first:
        if known.id in listed:
            continue
        plan.unlisted.append(known)
        if known.id in alerted:
            if listing_complete:
                plan.reread.add(known.id)
            else:
                plan.skipped += 1
    return plan


def stop_reason(evaluation: SlaEvaluation | None, fallback: str) -> str:
    """``SLA policy <name>: runtime X over max Y``, the reason shown on the stop run."""
    rule = evaluation.rule if evaluation is not None else None
    if evaluation is None or rule is None or rule.max_runtime is None:
        return fallback
    return sla_stop_reason(rule.policy_name or rule.label, evaluation.runtime, rule.max_runtime)


@dataclass(frozen=True)
class DryRunEnding:
    """How a ledger row ends when it is written: a dry-run note is final at once."""

    result: StopResult | None = None
    finished_at: datetime | None = None
    detail: str | None = None


def dry_run_ending(*, dry_run: bool, reason: str, now: datetime) -> DryRunEnding:
    """A dry-run note is final at once (it must never look like a stop in flight)."""
    if not dry_run:
        return DryRunEnding()
    return DryRunEnding(StopResult.DRY_RUN, now, f"would have stopped: {reason}")


@dataclass
class StopLedgerPlan:
    """What one tenant's plan becomes in the stop ledger and towards Dagster."""

    rows: list[NewStop] = field(default_factory=list)
    """Ledger rows to record in one transaction, *before* the sensor returns its RunRequests
    (a crash in between can lose a request but never send it twice)."""
    stops: list[StopToRequest] = field(default_factory=list)
    """Real stops for the sensor to request."""
    dry_lines: list[str] = field(default_factory=list)
    """``would have stopped <name> (<id>) of <tenant>: <reason>``, one per dry-run note."""


def plan_stop_ledger(plan: TickPlan, *, now: datetime, requester: Requester) -> StopLedgerPlan:
    """The ledger rows, stop requests and dry-run lines for a tick plan's stops.

    Args:
        plan: One tenant's tick plan.
        now: The tick's time (requested at; a dry-run note is finished at once).
        requester: Who asks (the SLA sensor).
    """
    evaluations = {e.run.id: e for e in plan.evaluations}
    out = StopLedgerPlan()
    for request in [*plan.stop_requests, *plan.dry_runs]:
        evaluation = evaluations.get(request.workflow_id)
        reason = stop_reason(evaluation, request.reason)
        out.rows.append(_ledger_row(request, reason, evaluation, now, requester))
        if request.dry_run:
            out.dry_lines.append(
                f"would have stopped {request.workflow_name} ({request.workflow_id}) "
                f"of {request.tenant}: {reason}"
            )
        else:
            out.stops.append(StopToRequest(request.tenant, request.workflow_id,
                                           request.workflow_name, request.run_key, reason))
    return out


def _ledger_row(
    request: StopRequest,
    reason: str,
    evaluation: SlaEvaluation | None,
    now: datetime,
    requester: Requester,
) -> NewStop:
    ending = dry_run_ending(dry_run=request.dry_run, reason=reason, now=now)
    return NewStop(
        run_key=request.run_key,
        tenant=request.tenant,
        workflow_id=request.workflow_id,
        workflow_name=request.workflow_name,
        requested_by=requester.label,
        requester=requester,
        reason=reason,
        dry_run=request.dry_run,
        requested_at=now,
        state_before=evaluation.run.state.raw if evaluation else None,
        result=ending.result,
        finished_at=ending.finished_at,
        detail=ending.detail,
    )


class RecordedStop(Protocol):
    """What :func:`lost_stops` reads of a stop-ledger row."""

    @property
    def workflow_id(self) -> str: ...

    @property
    def run_key(self) -> str: ...

    @property
    def dagster_run_key(self) -> str:
        """The Dagster run key carrying the stop: its own, or its batch's."""
        ...


_R = TypeVar("_R", bound=RecordedStop)


def lost_stops(
    candidates: Sequence[_R],
    *,
    active: Collection[str],
    job_exists: Callable[[str], bool],
) -> list[_R]:
    """Recorded, unlaunched sensor stops that were lost: still active, and no Dagster run.

    Args:
        candidates: Unfinished real sensor requests older than :data:`LOST_STOP_AFTER`, never
            re-sent (the store's ``unlaunched_stops``).
        active: Ids the store holds as active (not ended, not vanished).
        job_exists: Whether Dagster has a run with this run key (the stop's own, or the key
            of the batch run the sensor handed it to).
    """
    return [r for r in candidates
            if r.workflow_id in active and not job_exists(r.dagster_run_key)]
