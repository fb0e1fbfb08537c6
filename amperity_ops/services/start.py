"""Start a workflow (or attach to its run in flight) and wait for the end: the I/O of a start.

Used by the startable workflow assets (``defs/start.py``); no Dagster here. What to attach to
and what an ended run means are decided in :mod:`amperity_ops.monitoring.start`.

A start is not idempotent. ``AmperityClient.start_workflow`` never re-sends one blindly: a lost
answer is verified by listing the runs created since (it returns the run it finds, or raises
``OutcomeUnknownError`` / ``GaveUpError``); this module adds the look before the start (attach
to a run already in flight) and the wait after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from amperity_ops.monitoring.start import in_flight_run
from amperity_ops.services.poll import PAGE_SIZE

if TYPE_CHECKING:
    from amperity_ops.client import AmperityClient, WorkflowRun

__all__ = ["ATTACH_LOOKBACK", "StartedRun", "WaitEnd", "start_or_attach", "wait_for_end"]

log = logging.getLogger(__name__)

ATTACH_LOOKBACK = timedelta(days=2)
"""How far back a run in flight is looked for. Amperity workflows run hours, not days; one
still active after two days is the SLA sensor's business, not a reason to start another."""
_MAX_LISTED = 2_000
"""A bound on the look-back listing (a few pages on a busy tenant)."""


@dataclass(frozen=True)
class StartedRun:
    """The run a materialization follows: one it started, or one it attached to."""

    run: WorkflowRun
    attached: bool
    """True if the workflow was already in flight and nothing was started."""


def start_or_attach(
    client: AmperityClient, *, name: str, config_id: str, now: datetime
) -> StartedRun:
    """Attach to the workflow's run in flight, else start it (``POST /workflow/runs``).

    Args:
        client: The tenant's client (its rate budget counts every request).
        name: The workflow's name (runs carry names; the documented run has no config id).
        config_id: The configuration to start.
        now: The current time (the look-back starts from it).

    Returns:
        The run followed from here on.

    Raises:
        amperity_ops.client.OutcomeUnknownError: The start's answer was lost and the runs
            cannot tell whether it took (nothing is re-sent).
        amperity_ops.client.GaveUpError: The start did not take after the allowed sends.
        amperity_ops.client.AmperityError: Any other API failure.
    """
    recent = client.list_workflow_runs(
        created_from=now - ATTACH_LOOKBACK, limit=PAGE_SIZE, max_items=_MAX_LISTED
    )
    running = in_flight_run(recent, config_id=config_id, name=name)
    if running is not None:
        log.info("start of %s: run %s is in flight (%s); attaching to it", name, running.id,
                 running.state.raw)
        return StartedRun(running, attached=True)
    return StartedRun(client.start_workflow(config_id), attached=False)


@dataclass(frozen=True)
class WaitEnd:
    """Why the wait ended, and the run as last read."""

    reason: Literal["ended", "timeout", "cancelled"]
    run: WorkflowRun
    reads: int
    waited_s: float


def wait_for_end(
    client: AmperityClient,
    run: WorkflowRun,
    *,
    timeout: timedelta,
    poll_interval: timedelta,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
    on_read: Callable[[WorkflowRun, bool], None] = lambda run, changed: None,
    cancelled: Callable[[], bool] = lambda: False,
) -> WaitEnd:
    """Re-read the run until it is terminal, the timeout passes or the caller cancels.

    The timeout is real waiting, so it is measured on ``monotonic`` (the demo's SLA clock runs
    faster than real time).

    Args:
        client: The tenant's client.
        run: The run as first read.
        timeout: The longest wait, in real time.
        poll_interval: Time between two reads (one request each).
        sleep: Sleeps real seconds (injected in tests).
        monotonic: Real seconds (injected in tests, with ``sleep``).
        on_read: Called after each read with the run and whether its state changed
            (the asset streams these to the Dagster run's log).
        cancelled: Asked before each sleep; True ends the wait (the Dagster run was
            terminated).

    Returns:
        The end of the wait. Nothing is stopped here.
    """
    started = monotonic()
    deadline = started + timeout.total_seconds()
    reads = 0
    current = run
    while True:
        if current.state.is_terminal:
            return WaitEnd("ended", current, reads, monotonic() - started)
        if cancelled():
            return WaitEnd("cancelled", current, reads, monotonic() - started)
        now = monotonic()
        if now >= deadline:
            return WaitEnd("timeout", current, reads, now - started)
        sleep(min(poll_interval.total_seconds(), deadline - now))
        if cancelled():
            return WaitEnd("cancelled", current, reads, monotonic() - started)
        previous = current.state.raw
        current = client.get_workflow_run(current.id, verbose=True)
        reads += 1
        on_read(current, current.state.raw != previous)
