"""A stop that did not happen is tried again, a bounded number of times: pure decisions.

The SLA sensor records each stop it asks for in the stop ledger, then Dagster runs the stop job
under the run key ``stop:<tenant>:<id>``. That job can fail (Amperity refused the stop three
times, an error), be canceled, or die with its process (OOM, node lost, SIGKILL) and leave its
ledger row open and its Dagster run STARTED until Dagster's run monitoring ends it. Here:

1. :func:`plan_stop_retries` reads the sensor's ledger rows of the runs it observes and what
   Dagster says of each open row's run, and completes every open row whose job is over
   (``failed``, ``killed``, ``outcome_unknown``: :class:`RowCompletion`).
2. A run whose latest attempt did not take is *ready* for another one after a backoff
   (:data:`RETRY_BACKOFF`), with a new run key per attempt (``stop:<tenant>:<id>:2``, ``:3``),
   at most :data:`MAX_STOP_ATTEMPTS`; after the last one the sensor *gives up* and alerts.
3. Whether another attempt is sent at all is then the tick's usual stop decision on a fresh
   read (:func:`amperity_ops.monitoring.stops.decide_stop`): only a run still running and still
   over its policy is stopped again, so a stop Amperity did apply (the run is ``stopping`` or
   ended) is never sent again. :func:`apply_stop_retries` gives the ready ones their run key
   and turns a given-up one into one alert.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from amperity_ops.core import StopResult
from amperity_ops.core.alerts import AlertLevel, AlertMessage, dedup_key
from amperity_ops.monitoring.stops import stop_run_key
from amperity_ops.monitoring.tick import TickPlan

__all__ = [
    "MAX_STOP_ATTEMPTS",
    "NEVER_FINISHED_AFTER",
    "RETRYABLE_RESULTS",
    "RETRY_BACKOFF",
    "JobState",
    "RecordedAttempt",
    "RowCompletion",
    "StopRetryPlan",
    "apply_stop_retries",
    "attempt_number",
    "attempt_run_key",
    "gave_up_alert",
    "plan_stop_retries",
    "still_requested",
]

MAX_STOP_ATTEMPTS = 3
"""Stop jobs the sensor launches for one run at most (each sends at most 3 POSTs)."""
RETRY_BACKOFF: tuple[timedelta, ...] = (timedelta(minutes=2), timedelta(minutes=5))
"""How long after attempt N ended (``finished_at``) attempt N+1 may be requested."""
NEVER_FINISHED_AFTER = timedelta(minutes=30)
"""A stop job still queued or started this long after the sensor asked for it never finished
(its process died and run monitoring has not ended it yet, or monitoring is off). The stop
job waits at most 10 minutes for a run to stop; Dagster's run monitoring (``dagster.yaml``)
ends a stop run after 20."""
RETRYABLE_RESULTS = frozenset({StopResult.FAILED, StopResult.KILLED, StopResult.OUTCOME_UNKNOWN})
"""Endings after which a fresh read decides whether to try again. ``timeout`` is not one:
Amperity accepted that stop (the run was still stopping), so it is never sent again."""


class JobState(StrEnum):
    """What Dagster says of the stop job's run for one run key."""

    MISSING = "missing"
    """Dagster has no run for the key (the tick's result never reached the daemon)."""
    IN_FLIGHT = "in_flight"
    """Queued, starting, started or canceling."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class RecordedAttempt(Protocol):
    """What the plan reads of a stop-ledger row (``store.StopRecord``)."""

    @property
    def id(self) -> int: ...

    @property
    def run_key(self) -> str: ...

    @property
    def workflow_id(self) -> str: ...

    @property
    def result(self) -> StopResult | None: ...

    @property
    def requested_at(self) -> datetime: ...

    @property
    def finished_at(self) -> datetime | None: ...

    @property
    def detail(self) -> str | None: ...

    @property
    def dagster_run_key(self) -> str:
        """The Dagster run key carrying the stop: its own, or its batch's."""
        ...


def attempt_run_key(tenant: str, workflow_id: str, attempt: int) -> str:
    """``stop:<tenant>:<id>`` for the first attempt, ``stop:<tenant>:<id>:<n>`` after it."""
    base = stop_run_key(tenant, workflow_id)
    return base if attempt <= 1 else f"{base}:{attempt}"


def attempt_number(run_key: str, workflow_id: str) -> int:
    """Which attempt a ledger row's run key names (1 for ``stop:<tenant>:<id>``)."""
    head, _, tail = run_key.rpartition(":")
    if tail.isdigit() and head.endswith(f":{workflow_id}"):
        return int(tail)
    return 1


@dataclass(frozen=True)
class RowCompletion:
    """An open ledger row to complete: its stop job is over and never recorded a result."""

    row_id: int
    workflow_id: str
    result: StopResult
    detail: str


@dataclass
class StopRetryPlan:
    """What the ledger and the Dagster runs say about the sensor's earlier stops."""

    completions: list[RowCompletion] = field(default_factory=list)
    """Open rows to complete now (in one go, before planning)."""
    ready: dict[str, int] = field(default_factory=dict)
    """Runs whose last attempt did not take and whose backoff is over: the attempt to send
    next (2 or 3), if the fresh read still calls for a stop."""
    waiting: dict[str, datetime] = field(default_factory=dict)
    """Runs whose last attempt did not take, by when the next attempt may be requested."""
    gave_up: dict[str, str] = field(default_factory=dict)
    """Runs whose last allowed attempt did not take, with the last attempt's detail."""

    @property
    def reopened(self) -> set[str]:
        """Runs the tick should decide afresh (ready to retry, or to be alerted as given up)."""
        return set(self.ready) | set(self.gave_up)


def _completion(row: RecordedAttempt, state: JobState, now: datetime) -> RowCompletion | None:
    """How an open row ends given its job's state, or None while it may still finish."""
    carrier = row.dagster_run_key
    attempt = (f"stop job {row.run_key}" if carrier == row.run_key
               else f"stop batch {carrier} (with {row.run_key})")
    open_for = now - row.requested_at
    if state is JobState.FAILED:
        return RowCompletion(row.id, row.workflow_id, StopResult.FAILED,
                             f"{attempt} failed before recording a result (see its Dagster run)")
    if state is JobState.CANCELED:
        return RowCompletion(row.id, row.workflow_id, StopResult.KILLED,
                             f"{attempt} was canceled or ended by run monitoring before "
                             "recording a result; whether its stop left is not known")
    if open_for < NEVER_FINISHED_AFTER:
        return None
    if state is JobState.MISSING:
        if row.detail is None:
            return None  # not yet asked for again: the lost-stop recovery does that first
        return RowCompletion(row.id, row.workflow_id, StopResult.FAILED,
                             f"{attempt} was never launched, even when asked for again")
    what = "finished without recording" if state is JobState.SUCCEEDED else "never finished"
    return RowCompletion(row.id, row.workflow_id, StopResult.OUTCOME_UNKNOWN,
                         f"{attempt} {what} a result after {int(open_for.total_seconds() // 60)} "
                         "min; whether its stop left is not known")


def plan_stop_retries(
    rows: Iterable[RecordedAttempt],
    *,
    job_state: Callable[[str], JobState],
    now: datetime,
) -> StopRetryPlan:
    """Complete the open rows whose job is over; say which runs may be stopped once more.

    Args:
        rows: The SLA sensor's real ledger rows (every attempt) of the runs the tick observed.
        job_state: What Dagster says of a run key's stop job (asked only for open rows).
        now: The tick's time (backoffs and "never finished" are measured on it).

    Returns:
        The completions and, per run, ready / waiting / gave up.
    """
    plan = StopRetryPlan()
    latest: dict[str, tuple[int, StopResult | None, datetime | None, str | None]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        result, finished_at, detail = row.result, row.finished_at, row.detail
        if result is None:
            done = _completion(row, job_state(row.dagster_run_key), now)
            if done is not None:
                plan.completions.append(done)
                result, finished_at, detail = done.result, now, done.detail
        attempt = attempt_number(row.run_key, row.workflow_id)
        seen = latest.get(row.workflow_id)
        if seen is None or attempt >= seen[0]:
            latest[row.workflow_id] = (attempt, result, finished_at, detail)
    for workflow_id, (attempt, result, finished_at, detail) in latest.items():
        if result not in RETRYABLE_RESULTS:
            continue  # in flight, stopped, not running, accepted (timeout) ...: never again
        if attempt >= MAX_STOP_ATTEMPTS:
            plan.gave_up[workflow_id] = detail or str(result)
            continue
        due = (finished_at or now) + RETRY_BACKOFF[min(attempt, len(RETRY_BACKOFF)) - 1]
        if now >= due:
            plan.ready[workflow_id] = attempt + 1
        else:
            plan.waiting[workflow_id] = due
    return plan


def gave_up_alert(
    tenant: str, workflow_id: str, workflow_name: str, last: str, *, now: datetime,
    link: str | None = None,
) -> AlertMessage:
    """The one alert that the sensor stopped trying to stop a run (its own dedup key)."""
    title = (f"STOP GAVE UP: {workflow_name or workflow_id} is still running after "
             f"{MAX_STOP_ATTEMPTS} stop attempts")
    facts = (("Run", workflow_id), ("Attempts", str(MAX_STOP_ATTEMPTS)), ("Last attempt", last),
             ("Do", "stop it in Amperity, or with `amperity-ops stop`"))
    text = "\n".join([title, *(f"{a}: {b}" for a, b in facts), *([link] if link else [])])
    return AlertMessage(
        tenant=tenant, workflow_id=workflow_id, workflow_name=workflow_name,
        level=AlertLevel.BREACHED, title=title, text=text,
        dedup_key=dedup_key(tenant, f"stop-gave-up:{workflow_id}"), raised_at=now, link=link,
        facts=facts,
    )


def apply_stop_retries(
    plan: TickPlan,
    retries: StopRetryPlan,
    *,
    now: datetime,
    link_for: Callable[[str], str | None] | None = None,
) -> list[str]:
    """Give ready retries their attempt's run key; turn given-up stops into one alert each.

    ``plan`` was made with :attr:`StopRetryPlan.reopened` left out of ``stops_requested``, so
    its stop requests for those runs mean "still running, still over the policy, guard rails
    pass" on this tick's fresh read.

    Returns:
        One line per retry and give-up, for the tick's notes.
    """
    lines: list[str] = []
    kept = []
    for request in plan.stop_requests:
        attempt = retries.ready.get(request.workflow_id)
        if request.workflow_id in retries.gave_up:
            last = retries.gave_up[request.workflow_id]
            link = link_for(request.workflow_id) if link_for else None
            plan.alerts.append(gave_up_alert(plan.tenant, request.workflow_id,
                                             request.workflow_name, last, now=now, link=link))
            lines.append(f"gave up stopping {request.workflow_id} after {MAX_STOP_ATTEMPTS} "
                         f"attempts (last: {last})")
            continue
        if attempt is not None:
            request = replace(request, run_key=attempt_run_key(plan.tenant, request.workflow_id,
                                                                attempt))
            lines.append(f"stop of {request.workflow_id} did not take: attempt {attempt} of "
                         f"{MAX_STOP_ATTEMPTS} ({request.run_key})")
        kept.append(request)
    plan.stop_requests = kept
    if lines:
        plan.notes.extend(lines)
        said = " ".join(lines)
        plan.summary = f"{plan.summary}; {said}" if plan.summary else said
        plan.headline = f"{plan.headline}; {said}" if plan.headline else said
    return lines


def still_requested(requested: Collection[str], retries: StopRetryPlan) -> set[str]:
    """The runs the tick must treat as already asked for: all but the reopened ones."""
    return set(requested) - retries.reopened
