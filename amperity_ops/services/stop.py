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
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NotRequired, TypedDict, Unpack

from amperity_ops.client import (
    APIConnectionError,
    ConflictError,
    GaveUpError,
    NotFoundError,
    ServerError,
    check_id,
)
from amperity_ops.core import Requester, StopResult
from amperity_ops.monitoring.stop_order import (
    StopEnding,
    StopOutcome,
    verdict_after_conflict,
    verdict_on_first_read,
    verdict_on_gave_up,
    verdict_on_missing_run,
    verdict_on_vanishing,
    verdict_while_waiting,
)
from amperity_ops.services.clock import utc_now
from amperity_ops.services.stop_record import StopLedgerRow

if TYPE_CHECKING:
    from amperity_ops.client import AmperityClient
    from amperity_ops.services.runtime import OpsRuntime
    from amperity_ops.store import Store

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_WAIT_TIMEOUT",
    "StopArgs",
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
    ledger = StopLedgerRow(store, tenant, workflow_id, requester, reason, dry_run,
                           started_at=clock())
    started_mono = monotonic()
    end = _carry_out(client, store, ledger, wait_timeout=wait_timeout,
                     poll_interval=poll_interval, clock=clock, sleep=sleep, monotonic=monotonic)
    outcome = end.outcome(
        tenant=tenant, workflow_id=workflow_id, reason=reason, requested_by=requester.label,
        dry_run=dry_run, started_at=ledger.started_at, finished_at=clock(),
        elapsed_seconds=monotonic() - started_mono,
    )
    ledger.finish(outcome, end.before)
    log.info("stop %s/%s: %s", tenant, workflow_id, outcome.message)
    return outcome


def _carry_out(
    client: AmperityClient,
    store: Store | None,
    ledger: StopLedgerRow,
    *,
    wait_timeout: timedelta,
    poll_interval: timedelta,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
) -> StopEnding:
    """Read, ask :mod:`amperity_ops.monitoring.stop_order` at each step, send, wait."""
    workflow_id = ledger.workflow_id
    try:
        before = client.get_workflow_run(workflow_id)
    except NotFoundError:
        known = store.get_run(ledger.tenant, workflow_id) if store is not None else None
        verdict = verdict_on_missing_run(ledger.tenant, workflow_id, known)
        return StopEnding.of(verdict, None, None, name=known.name if known else None)
    ledger.open(before)
    verdict = verdict_on_first_read(before, dry_run=ledger.dry_run)
    if verdict.result is not None:
        return StopEnding.of(verdict, before, before)
    stop_sent_at = clock()
    sent_mono = monotonic()
    try:
        current = client.stop_workflow_run(workflow_id)
    except ConflictError:
        # 409: the run changed state between the re-read and the stop (usually: it ended).
        current = client.get_workflow_run(workflow_id)
        conflict = verdict_after_conflict(before, current)
        if conflict is None:
            raise
        return StopEnding.of(conflict, before, current)
    except NotFoundError:
        vanished = verdict_on_vanishing(before, stop_answered=False)
        return StopEnding.of(vanished, before, None, stop_sent_at=stop_sent_at)
    except GaveUpError as err:
        # Three sends, none taken (or the last answer lost): never "stopped"; the ledger says
        # so, and the message carries Amperity's request ids for a support ticket.
        gave_up = verdict_on_gave_up(before, outcome=err.outcome, said=str(err))
        return StopEnding.of(gave_up, before, None, stop_sent_at=stop_sent_at)
    except (APIConnectionError, ServerError) as err:
        # The stop may have left (a 5xx or a lost answer, then a failed re-read): not known.
        lost = verdict_on_gave_up(before, outcome="unknown", said=str(err))
        return StopEnding.of(lost, before, None, stop_sent_at=stop_sent_at)
    # Real waiting, so real (monotonic) seconds: the SLA clock may run faster (the demo).
    timeout_s = wait_timeout.total_seconds()
    deadline = sent_mono + timeout_s
    polls = 0
    while True:
        now = monotonic()
        waited = verdict_while_waiting(before, current, now=now, deadline=deadline,
                                       timeout_s=timeout_s)
        if waited is not None:
            return StopEnding.of(waited, before, current, stop_sent_at=stop_sent_at, polls=polls)
        sleep(min(poll_interval.total_seconds(), deadline - now))
        polls += 1
        try:
            current = client.get_workflow_run(workflow_id)
        except NotFoundError:
            vanished = verdict_on_vanishing(before, stop_answered=True)
            return StopEnding.of(vanished, before, None, stop_sent_at=stop_sent_at, polls=polls)


class StopArgs(TypedDict):
    """What a stop request names, as :func:`stop_workflow_run` takes it (see its Args)."""

    tenant: str
    workflow_id: str
    reason: str
    requester: Requester
    dry_run: NotRequired[bool]
    wait_timeout: NotRequired[timedelta]
    poll_interval: NotRequired[timedelta]


def stop_with_runtime(
    runtime: OpsRuntime, client: AmperityClient, **request: Unpack[StopArgs]
) -> StopOutcome:
    """:func:`stop_workflow_run` with the runtime's store, clock, sleep and monotonic clock.

    The stop job and the CLI both stop through this, so neither can forget one of the
    runtime's injected clocks.

    Args:
        runtime: Supplies the store and the three clocks.
        client: The tenant's API client (opened by the caller, who may read more with it).
        **request: The tenant, the run, the reason, who asked, and optionally dry run and
            the wait (as :func:`stop_workflow_run` takes them).

    Returns:
        The outcome (see :func:`stop_workflow_run`).
    """
    return stop_workflow_run(client, runtime.store, clock=runtime.clock, sleep=runtime.sleep,
                             monotonic=runtime.monotonic, **request)
