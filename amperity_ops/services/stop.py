"""Stop one workflow run safely: the one path for the SLA sensor, the Launchpad and the CLI.

The sequence is re-read, decide, stop, wait, record:

1. Re-read the run. It may have ended (or vanished) since whoever asked looked at it. A 404
   on this first read is ``not_found`` (a wrong id or tenant: nothing was stopped, and that is
   not a success) unless the history store knew the run, in which case it ``vanished``.
2. Only a *recognised* running state is stopped (``WorkflowState.is_stoppable``). An unknown
   state, a run that is already stopping or one that ended is left alone and reported as such.
3. ``POST .../stop`` has no idempotency contract; the client never retries it blindly, and a
   409 (the run ended in between) is read back and reported, not raised.
4. Wait until the run is terminal or ``wait_timeout`` passes. The wait and its timeout are
   real waiting, so they are measured on a monotonic clock (injected in tests), never on the
   SLA clock: the demo's SLA clock runs 10 times faster than real time.
5. Record who asked and why in the store's stop ledger as soon as the run has been re-read
   (``record_stop``; or, for the SLA sensor's own request, the row it already wrote), and the
   result at the end (``finish_stop``). A dry run is recorded too, as a dry-run note: the
   ledger keeps notes apart from real requests, so a note never holds back a real stop. An id
   that was never found adds no row (nothing was asked of Amperity, and a typo must not count
   against the hourly stop cap); the sensor's own pending row, if any, is finished as
   ``not_found``.
6. A run that existed and then answers 404 is marked vanished in the history store, so the
   polls and the sensor stop re-reading it. An id that never existed is not marked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from amperity_ops.client import ConflictError, NotFoundError, WorkflowRun
from amperity_ops.client._params import check_id
from amperity_ops.core import Requester, StopResult
from amperity_ops.monitoring import stop_run_key
from amperity_ops.services.clock import utc_now

if TYPE_CHECKING:
    from amperity_ops.client import AmperityClient
    from amperity_ops.services.runtime import OpsRuntime
    from amperity_ops.store import Store

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_WAIT_TIMEOUT",
    "StopOutcome",
    "StopResult",
    "stop_with_runtime",
    "stop_workflow_run",
]

log = logging.getLogger(__name__)

DEFAULT_WAIT_TIMEOUT = timedelta(minutes=10)
"""How long to wait for a stopped run to reach a terminal state (Amperity stops take minutes)."""
DEFAULT_POLL_INTERVAL = timedelta(seconds=10)
"""How often to re-read a stopping run: one request per interval against a 10 rps budget."""



_NOT_SUCCEEDED = frozenset({StopResult.STILL_STOPPING, StopResult.NOT_FOUND})


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


def stop_workflow_run(
    client: AmperityClient,
    store: Store | None,
    *,
    tenant: str,
    workflow_id: str,
    reason: str,
    requester: Requester,
    dry_run: bool = False,
    wait_timeout: timedelta = DEFAULT_WAIT_TIMEOUT,
    poll_interval: timedelta = DEFAULT_POLL_INTERVAL,
    clock: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> StopOutcome:
    """Stop a workflow run if, and only if, it is in a recognised running state.

    Args:
        client: The tenant's API client.
        store: The history store; the outcome is recorded in its stop ledger (a dry run as a
            dry-run note) and a run that existed and answers 404 is marked vanished (None:
            nothing recorded).
        tenant: The tenant name (as in the policy file), recorded with the outcome.
        workflow_id: The run to stop (``wf-…``).
        reason: Why it is being stopped; required, recorded and shown everywhere.
        requester: Who asked (the SLA sensor, a person from the Launchpad, the CLI).
        dry_run: Re-read and decide, but send nothing.
        wait_timeout: How long to wait (real time) for the run to end after the stop was sent.
        poll_interval: Time between re-reads while waiting.
        clock: Returns the current UTC time, for timestamps (injected in tests; the demo's
            clock is the simulator's).
        sleep: Sleeps for a number of real seconds (injected in tests).
        monotonic: Real seconds on a monotonic clock; the wait and its timeout are measured on
            it (injected in tests, together with ``sleep``).

    Returns:
        The outcome; ``outcome.succeeded`` is False when the run was not found or was still
        not terminal at the timeout.

    Raises:
        ValueError: If ``reason`` is empty or ``workflow_id`` is not a valid id.
        amperity_ops.client.AmperityError: On API failures other than 404 and 409.
    """
    if not reason.strip():
        raise ValueError("reason: a stop needs a reason (it is recorded and shown to people)")
    check_id(workflow_id, "workflow_id")
    started_at = clock()
    started_mono = monotonic()
    ledger_id: int | None = None

    def open_ledger(before: WorkflowRun | None) -> None:
        # Recorded as soon as the run has been re-read, so an interrupted wait still leaves
        # who asked and why in the store.
        nonlocal ledger_id
        if store is not None:
            pending = (
                None if dry_run else _pending_request(store, tenant, workflow_id, requester)
            )
            if pending is not None:  # the SLA sensor's request: this job carries it out
                ledger_id = pending
                return
            ledger_id = store.record_stop(
                run_key=stop_run_key(tenant, workflow_id),
                tenant=tenant,
                workflow_id=workflow_id,
                workflow_name=before.name if before else "",
                requested_by=requester.label,
                requester=requester,
                reason=reason,
                dry_run=dry_run,
                requested_at=started_at,
                state_before=before.state.raw if before else None,
            )

    def finish(
        result: StopResult,
        message: str,
        before: WorkflowRun | None,
        after: WorkflowRun | None,
        *,
        stop_sent_at: datetime | None = None,
        polls: int = 0,
        name: str | None = None,
    ) -> StopOutcome:
        nonlocal ledger_id
        subject = before or after
        outcome = StopOutcome(
            tenant=tenant,
            workflow_id=workflow_id,
            reason=reason,
            requested_by=requester.label,
            dry_run=dry_run,
            result=result,
            message=message,
            state_before=before.state.raw if before else None,
            state_after=after.state.raw if after else None,
            started_at=started_at,
            finished_at=clock(),
            stop_sent_at=stop_sent_at,
            workflow_name=subject.name if subject else name,
            polls=polls,
            elapsed_seconds=max(0.0, monotonic() - started_mono),
        )
        if store is not None:
            if result is StopResult.VANISHED:
                store.mark_runs_vanished(tenant, [workflow_id], at=outcome.finished_at)
            if result is StopResult.NOT_FOUND:
                # Only the sensor's own pending row is finished; a typo adds no row.
                if not dry_run:
                    ledger_id = _pending_request(store, tenant, workflow_id, requester)
            elif ledger_id is None:
                open_ledger(before)
            if ledger_id is not None:
                store.finish_stop(
                    ledger_id,
                    result=outcome.result,
                    state_after=outcome.state_after,
                    finished_at=outcome.finished_at,
                    detail=outcome.message,
                    state_before=outcome.state_before,
                )
        log.info("stop %s/%s: %s", tenant, workflow_id, message)
        return outcome

    try:
        before = client.get_workflow_run(workflow_id)
    except NotFoundError:
        known = store.get_run(tenant, workflow_id) if store is not None else None
        if known is None:
            return finish(
                StopResult.NOT_FOUND,
                f"{workflow_id} does not exist in tenant {tenant} (404): check the id; "
                "nothing was stopped",
                None,
                None,
            )
        return finish(
            StopResult.VANISHED,
            f"{workflow_id} ({known.name}) was last seen {known.state.raw} but answers 404 "
            "now: it vanished; nothing was stopped",
            None,
            None,
            name=known.name,
        )

    open_ledger(before)
    label = f"{workflow_id} ({before.name})"
    if before.state.is_unknown:
        return finish(
            StopResult.UNKNOWN_STATE,
            f"{label} is in state {before.state.raw!r}, which is not recognised: "
            "not stopped (nothing destructive is done on an unknown state)",
            before,
            before,
        )
    if not before.state.is_stoppable:
        where = (f"already ended ({before.state.raw})" if before.state.is_terminal
                 else f"is {before.state.raw}, not running")
        return finish(
            StopResult.NOT_RUNNING,
            f"{label} {where}: nothing to stop",
            before,
            before,
        )
    if dry_run:
        return finish(
            StopResult.DRY_RUN,
            f"dry run: would stop {label}, which is {before.state.raw}",
            before,
            before,
        )

    stop_sent_at = clock()
    sent_mono = monotonic()
    try:
        current = client.stop_workflow_run(workflow_id)
    except ConflictError:
        # 409: the run changed state between the re-read and the stop (usually: it ended).
        current = client.get_workflow_run(workflow_id)
        if not current.state.is_stoppable:
            return finish(
                StopResult.NOT_RUNNING,
                f"{label} ended before the stop took effect (now {current.state.raw})",
                before,
                current,
            )
        raise
    except NotFoundError:
        return finish(
            StopResult.VANISHED,
            f"{label} vanished (404) while being stopped",
            before,
            None,
            stop_sent_at=stop_sent_at,
        )

    # Real waiting, so real (monotonic) seconds: the SLA clock may run faster (the demo).
    timeout_s = wait_timeout.total_seconds()
    deadline = sent_mono + timeout_s
    polls = 0
    while not current.state.is_terminal:
        now = monotonic()
        if now >= deadline:
            return finish(
                StopResult.STILL_STOPPING,
                f"stop sent to {label}, but it is still {current.state.raw} after "
                f"{timeout_s:.0f} s",
                before,
                current,
                stop_sent_at=stop_sent_at,
                polls=polls,
            )
        sleep(min(poll_interval.total_seconds(), deadline - now))
        try:
            current = client.get_workflow_run(workflow_id)
        except NotFoundError:
            return finish(
                StopResult.VANISHED,
                f"{label} vanished (404) while stopping",
                before,
                None,
                stop_sent_at=stop_sent_at,
                polls=polls + 1,
            )
        polls += 1

    return finish(
        StopResult.STOPPED,
        f"stopped {label}: {before.state.raw} -> {current.state.raw}",
        before,
        current,
        stop_sent_at=stop_sent_at,
        polls=polls,
    )


def stop_with_runtime(
    runtime: OpsRuntime,
    client: AmperityClient,
    *,
    tenant: str,
    workflow_id: str,
    reason: str,
    requester: Requester,
    dry_run: bool = False,
    wait_timeout: timedelta = DEFAULT_WAIT_TIMEOUT,
    poll_interval: timedelta = DEFAULT_POLL_INTERVAL,
) -> StopOutcome:
    """:func:`stop_workflow_run` with the runtime's store, clock, sleep and monotonic clock.

    The stop job and the CLI both stop through this, so neither can forget one of the
    runtime's injected clocks.

    Args:
        runtime: Supplies the store and the three clocks.
        client: The tenant's API client (opened by the caller, who may read more with it).
        tenant: The tenant name (as in the policy file).
        workflow_id: The run to stop.
        reason: Why; required.
        requester: Who asked.
        dry_run: Re-read and decide, but send nothing.
        wait_timeout: How long to wait (real time) for the run to end.
        poll_interval: Time between re-reads while waiting.

    Returns:
        The outcome (see :func:`stop_workflow_run`).
    """
    return stop_workflow_run(
        client,
        runtime.store,
        tenant=tenant,
        workflow_id=workflow_id,
        reason=reason,
        requester=requester,
        dry_run=dry_run,
        wait_timeout=wait_timeout,
        poll_interval=poll_interval,
        clock=runtime.clock,
        sleep=runtime.sleep,
        monotonic=runtime.monotonic,
    )


def _pending_request(
    store: Store, tenant: str, workflow_id: str, requester: Requester
) -> int | None:
    """The ledger row of an unfinished, real stop request for this run by the same requester.

    The SLA sensor records its request before Dagster launches the stop job; the job then
    finishes that row instead of adding a second one for the same request (looked up by run,
    however many other stops the ledger holds).
    """
    return store.pending_stop_id(tenant, workflow_id, requester=requester)
