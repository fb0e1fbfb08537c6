"""The stop job's decisions, in the order it takes them: pure, over the runs it has read.

The service (``services/stop.py``) reads and sends; at each step it asks one function here what
the step means. The order is fixed: a 404 on the first read (``not_found`` vs ``vanished``),
then an unknown state, then a state that is not stoppable, then dry run; only then is the stop
sent. A 409 on the stop is read back; while waiting, a terminal state ends the wait before the
deadline is looked at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from amperity_ops.client.models import WorkflowRun
from amperity_ops.core import StopResult

__all__ = [
    "StopEnding",
    "StopOutcome",
    "StopVerdict",
    "ledger_row_for",
    "verdict_after_conflict",
    "verdict_on_first_read",
    "verdict_on_gave_up",
    "verdict_on_missing_run",
    "verdict_on_vanishing",
    "verdict_while_waiting",
]


@dataclass(frozen=True)
class StopVerdict:
    """How a stop request ends at this step (``result`` None: go on and send the stop)."""

    result: StopResult | None
    message: str = ""


def _label(run: WorkflowRun) -> str:
    return f"{run.id} ({run.name})"


def verdict_on_missing_run(
    tenant: str, workflow_id: str, known: WorkflowRun | None
) -> StopVerdict:
    """The first read answered 404: a wrong id (``not_found``) unless the store knew the run."""
    if known is None:
        return StopVerdict(
            StopResult.NOT_FOUND,
            f"{workflow_id} does not exist in tenant {tenant} (404): check the id; "
            "nothing was stopped",
        )
    return StopVerdict(
        StopResult.VANISHED,
        f"{workflow_id} ({known.name}) was last seen {known.state.raw} but answers 404 "
        "now: it vanished; nothing was stopped",
    )


def verdict_on_first_read(before: WorkflowRun, *, dry_run: bool) -> StopVerdict:
    """Unknown state, not stoppable, dry run, in that order; else send (``result`` None)."""
    label = _label(before)
    if before.state.is_unknown:
        return StopVerdict(
            StopResult.UNKNOWN_STATE,
            f"{label} is in state {before.state.raw!r}, which is not recognised: "
            "not stopped (nothing destructive is done on an unknown state)",
        )
    if not before.state.is_stoppable:
        where = (f"already ended ({before.state.raw})" if before.state.is_terminal
                 else f"is {before.state.raw}, not running")
        return StopVerdict(StopResult.NOT_RUNNING, f"{label} {where}: nothing to stop")
    if dry_run:
        return StopVerdict(
            StopResult.DRY_RUN, f"dry run: would stop {label}, which is {before.state.raw}"
        )
    return StopVerdict(None)


def verdict_after_conflict(before: WorkflowRun, current: WorkflowRun) -> StopVerdict | None:
    """The stop answered 409 and the run was read back: ended (``not_running``), else None.

    None means the conflict is not explained by the run ending: the caller re-raises it.
    """
    if current.state.is_stoppable:
        return None
    return StopVerdict(
        StopResult.NOT_RUNNING,
        f"{_label(before)} ended before the stop took effect (now {current.state.raw})",
    )


def verdict_on_vanishing(before: WorkflowRun, *, stop_answered: bool) -> StopVerdict:
    """A run read before answered 404 to the stop itself or to a re-read while stopping."""
    when = "while stopping" if stop_answered else "while being stopped"
    return StopVerdict(StopResult.VANISHED, f"{_label(before)} vanished (404) {when}")


def verdict_on_gave_up(before: WorkflowRun, *, outcome: str, said: str) -> StopVerdict:
    """The stop was sent as often as allowed without taking, or its last answer was lost.

    Never ``stopped``: ``failed`` when the last read showed the run still running (Amperity
    refused each send), ``outcome_unknown`` when it could not be told.

    Args:
        before: The run as first read.
        outcome: The client's verdict: ``"failed"`` or ``"unknown"``.
        said: What was tried and answered, with Amperity's request ids (the error's text).
    """
    result = StopResult.FAILED if outcome == "failed" else StopResult.OUTCOME_UNKNOWN
    what = "did not take" if result is StopResult.FAILED else "has an unknown outcome"
    return StopVerdict(result, f"the stop of {_label(before)} {what}: {said}")


def verdict_while_waiting(
    before: WorkflowRun, current: WorkflowRun, *, now: float, deadline: float, timeout_s: float
) -> StopVerdict | None:
    """Stopped (terminal), still stopping at the deadline, or None: wait and re-read.

    Args:
        before: The run as first read.
        current: The run as last read.
        now: Monotonic seconds now.
        deadline: Monotonic seconds at which the wait gives up.
        timeout_s: The wait's length, for the message.
    """
    if current.state.is_terminal:
        return StopVerdict(
            StopResult.STOPPED,
            f"stopped {_label(before)}: {before.state.raw} -> {current.state.raw}",
        )
    if now >= deadline:
        return StopVerdict(
            StopResult.STILL_STOPPING,
            f"stop sent to {_label(before)}, but it is still {current.state.raw} after "
            f"{timeout_s:.0f} s",
        )
    return None


def ledger_row_for(result: StopResult, *, dry_run: bool) -> Literal["none", "pending", "open"]:
    """Which ledger row an ending is written to.

    ``pending``: only a pending row the requester already has (an id that was never found
    adds no row: a typo must not count against the hourly cap); ``none``: no row at all (a dry
    run of an id never found); ``open``: the requester's pending row, or a new one.
    """
    if result is StopResult.NOT_FOUND:
        return "none" if dry_run else "pending"
    return "open"


_NOT_SUCCEEDED = frozenset({
    StopResult.STILL_STOPPING, StopResult.NOT_FOUND, StopResult.FAILED, StopResult.KILLED,
    StopResult.OUTCOME_UNKNOWN,
})


@dataclass(frozen=True)
class StopOutcome:
    """The result of one stop request, with everything a person needs to read back."""

    tenant: str
    workflow_id: str
    reason: str
    requested_by: str
    dry_run: bool
    result: StopResult
    message: str
    """One human sentence: what was found and what was done."""
    state_before: str | None
    """The run's wire state when re-read, or None if it did not exist."""
    state_after: str | None
    """The run's wire state at the end, or None if it did not exist."""
    started_at: datetime
    """When the request began, on the SLA clock (the same clock as the store's timestamps)."""
    finished_at: datetime
    """When it ended, on the SLA clock."""
    stop_sent_at: datetime | None = None
    """When the stop was sent, on the SLA clock; None if none was sent."""
    workflow_name: str | None = None
    polls: int = 0
    """How many times the run was re-read while waiting."""
    elapsed_seconds: float = 0.0
    """Real seconds from the first re-read to the end, on a monotonic clock."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        """False when the run was not found (404 on the first read) or did not end in time."""
        return self.result not in _NOT_SUCCEEDED

    @property
    def elapsed(self) -> timedelta:
        """Real time from the first re-read to the end (monotonic, never the SLA clock)."""
        return timedelta(seconds=self.elapsed_seconds)

    @property
    def waited(self) -> str:
        """How long it took, for people: ``10.1 s (1 re-read)``."""
        noun = "re-read" if self.polls == 1 else "re-reads"
        return f"{self.elapsed_seconds:.1f} s ({self.polls} {noun})"

    def one_line(self) -> str:
        """One plain line for a log: what happened, how long it took, why and who asked.

        Returns:
            E.g. ``stopped wf-… (Daily Ecommerce Sources) running -> stopped in 10.1 s;
            reason SLA policy …; requested by sensor …``.
        """
        if self.result is StopResult.STOPPED:
            name = f" ({self.workflow_name})" if self.workflow_name else ""
            what = (
                f"stopped {self.workflow_id}{name} {self.state_before} -> {self.state_after} "
                f"in {self.elapsed_seconds:.1f} s"
            )
        else:
            what = self.message
        return f"{what}; reason {self.reason}; requested by {self.requested_by}"

    def as_metadata(self) -> dict[str, str | float | bool | None]:
        """Flat, secret-free values for Dagster metadata, logs and the CLI."""
        return {
            "tenant": self.tenant,
            "workflow_id": self.workflow_id,
            "workflow_name": self.workflow_name,
            "result": self.result.value,
            "message": self.message,
            "reason": self.reason,
            "requested_by": self.requested_by,
            "dry_run": self.dry_run,
            "state_before": self.state_before,
            "state_after": self.state_after,
            "started_at": self.started_at.isoformat(),
            "stop_sent_at": self.stop_sent_at.isoformat() if self.stop_sent_at else None,
            "finished_at": self.finished_at.isoformat(),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "polls": self.polls,
        }


@dataclass(frozen=True)
class StopEnding:
    """How the reads and the stop went: the verdict and the runs it was reached on."""

    result: StopResult
    message: str
    before: WorkflowRun | None = None
    after: WorkflowRun | None = None
    stop_sent_at: datetime | None = None
    polls: int = 0
    name: str | None = None
    """The run's name when neither read found it (the store's, for a vanished run)."""

    @classmethod
    def of(cls, verdict: StopVerdict, before: WorkflowRun | None, after: WorkflowRun | None,
           **extra: Any) -> StopEnding:
        """The ending a verdict that ends the request (``result`` set) comes to."""
        assert verdict.result is not None  # a verdict that ends the request
        return cls(verdict.result, verdict.message, before, after, **extra)

    def outcome(self, *, tenant: str, workflow_id: str, reason: str, requested_by: str,
                dry_run: bool, started_at: datetime, finished_at: datetime,
                elapsed_seconds: float) -> StopOutcome:
        """The :class:`StopOutcome` to report and record for this ending."""
        subject = self.before or self.after
        return StopOutcome(
            tenant=tenant,
            workflow_id=workflow_id,
            reason=reason,
            requested_by=requested_by,
            dry_run=dry_run,
            result=self.result,
            message=self.message,
            state_before=self.before.state.raw if self.before else None,
            state_after=self.after.state.raw if self.after else None,
            started_at=started_at,
            finished_at=finished_at,
            stop_sent_at=self.stop_sent_at,
            workflow_name=subject.name if subject else self.name,
            polls=self.polls,
            elapsed_seconds=max(0.0, elapsed_seconds),
        )
