"""Incremental polling of workflow runs and ingest jobs into the history store.

A poll never re-reads the whole history. Per tenant it reads:

* **one listing** ``GET /workflow/runs?created_from=<from>``, where ``<from>`` is the watermark
  of the previous poll (minus a small overlap for clock skew) or, if earlier, the start of the
  oldest run the store still holds as active. That one listing returns every new run *and*
  re-reads every recently started active run.
* **one ``GET /workflow/runs/{id}`` per straggler**: a run the store holds as active that
  started long before the watermark (``STRAGGLER_AGE``) is re-read by id rather than by
  widening the listing over days of finished history; so is an active run the listing did not
  return (it may have vanished: a 404 is recorded as such). When there are many stragglers
  (``MANY_STRAGGLERS`` or more: long-running workflows pile up), one
  ``GET /workflow/runs?state=running`` listing (a request per 100 runs) comes first, and only
  the stragglers it did not return are read by id.

Ingest jobs are read with ``GET /ingest/jobs?created_from&created_to`` from the watermark, or
``INGEST_REFRESH`` back if that is earlier (feeds change for hours after their job is created),
in windows of at most 7 days (the API's limit).

A run that answers 404 is reported in ``PollReport.vanished`` and marked vanished in the
store (``Store.mark_runs_vanished``): it is no longer active, so it is not re-read on every
poll. Should the API list it again, the upsert brings it back.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from amperity_ops.client import INGEST_WINDOW, IngestJob, NotFoundError, WorkflowRun

if TYPE_CHECKING:
    from amperity_ops.client import AmperityClient
    from amperity_ops.store import Store

__all__ = [
    "INGEST_WINDOW",
    "INITIAL_LOOKBACK",
    "MANY_STRAGGLERS",
    "OVERLAP",
    "STRAGGLER_AGE",
    "IngestPollReport",
    "PollReport",
    "backfill",
    "poll_ingest_jobs",
    "poll_workflow_runs",
]

log = logging.getLogger(__name__)

RUNS_WATERMARK = "workflow_runs"
INGEST_WATERMARK = "ingest_jobs"

PAGE_SIZE = 100
"""Runs per page asked of the API (its maximum): fewer requests against the rate budget."""
OVERLAP = timedelta(minutes=5)
"""Re-read this much before the watermark: clocks differ and runs appear with a delay.
Upserts are idempotent, so the overlap costs a few rows, never duplicates."""
INITIAL_LOOKBACK = timedelta(days=1)
"""The first poll of a tenant reads this far back; longer history is ``backfill``'s job."""
STRAGGLER_AGE = timedelta(hours=6)
"""Active runs that started this long before the watermark are re-read by id, one request
each, instead of widening the listing over hours of finished runs."""
MANY_STRAGGLERS = 5
"""From this many stragglers on, a ``state=running`` listing (one request per 100 running runs)
re-reads them before any is read by id (one request each), so a tenant with hundreds of
long-running runs does not spend its rate budget, shared with the SLA sensor, on each poll."""
INGEST_REFRESH = timedelta(hours=6)
"""Ingest jobs created this recently are re-read on every poll (their feeds may still change);
still one request, since the window is within the API's 7 days."""


@dataclass
class PollReport:
    """What one poll of one tenant's workflow runs read and stored."""

    tenant: str
    polled_at: datetime
    listed_from: datetime
    """The ``created_from`` of the listing."""
    listed: int = 0
    """Runs returned by the listing."""
    reread: int = 0
    """Runs re-read one by one (stragglers, runs missing from the listing)."""
    running_pages: int = 0
    """Pages of the ``state=running`` listing read for many stragglers (0: not needed)."""
    vanished: list[str] = field(default_factory=list)
    """Runs the store held as active that the API no longer knows (404)."""
    new_runs: int = 0
    """Runs the store had not seen before."""
    ended: list[WorkflowRun] = field(default_factory=list)
    """Runs the store held as active that have now ended."""
    active: list[WorkflowRun] = field(default_factory=list)
    """Every run active at the end of the poll."""
    odd: list[WorkflowRun] = field(default_factory=list)
    """Runs read this poll that did not fit the model (``problems`` names the fields): kept
    with what is known; one with no ``created_at`` is not stored until Amperity sends it."""
    dropped: int = 0
    """Records left out of the listing because they had no usable id."""

    def summary(self, time_mark: str = "") -> str:
        """One line saying what the poll read (the asset's ``polled`` cell and the log line).

        Args:
            time_mark: ``core.clock.clock_mark`` of the clock ``listed_from`` was read on
                (`` (sim)`` in the demo), so a simulated time is never read as a real one.
        """
        return (
            f"{self.listed} listed since {self.listed_from:%Y-%m-%d %H:%M} UTC{time_mark}, "
            f"{self.reread} re-read"
            + (f" (+{self.running_pages} running-list pages)" if self.running_pages else "")
            + (f", {len(self.vanished)} vanished (404)" if self.vanished else "")
            + f", {self.new_runs} new, {len(self.ended)} ended, {len(self.active)} active"
            + (f", {len(self.odd)} odd record(s)" if self.odd else "")
            + (f", {self.dropped} dropped (no id)" if self.dropped else "")
        )


@dataclass
class IngestPollReport:
    """What one poll of one tenant's ingest jobs read and stored."""

    tenant: str
    polled_at: datetime
    listed_from: datetime
    jobs: list[IngestJob] = field(default_factory=list)
    """Every job returned by the windows read (new or updated)."""
    windows: int = 0
    """How many ``GET /ingest/jobs`` windows were read."""


def _listing_start(
    store_active: Iterable[WorkflowRun], watermark: datetime | None, now: datetime
) -> datetime:
    """Where the listing starts: the watermark, or an active run's start if a little earlier.

    Active runs older than ``STRAGGLER_AGE`` before the watermark do not widen the listing:
    they are not returned by it, so they are re-read by id.
    """
    since = (watermark - OVERLAP) if watermark else (now - INITIAL_LOOKBACK)
    start = since
    for run in store_active:
        if run.created_at is not None and since - STRAGGLER_AGE <= run.created_at < start:
            start = run.created_at
    return start


def poll_workflow_runs(
    client: AmperityClient, store: Store, *, tenant: str, now: datetime
) -> PollReport:
    """Read new and still-active workflow runs since the watermark and store them.

    Args:
        client: The tenant's API client.
        store: The history store (runs and the watermark are written to it).
        tenant: The tenant name.
        now: The current time; becomes the new watermark.

    Returns:
        A report of what was read, what ended, and what is active now.
    """
    previously_active = {run.id: run for run in store.active_runs(tenant)}
    watermark = store.get_watermark(tenant, RUNS_WATERMARK)
    start = _listing_start(previously_active.values(), watermark, now)
    report = PollReport(tenant=tenant, polled_at=now, listed_from=start)

    seen: dict[str, WorkflowRun] = {}
    listing = client.list_workflow_runs(created_from=start, limit=PAGE_SIZE)
    for run in listing:
        seen[run.id] = run
    report.listed = len(seen)
    report.dropped = listing.dropped_records

    # Stragglers (started before the listing's window) and active runs the listing did not
    # return although it should have: re-read one by one (after a running listing if many).
    missing = [r for r in previously_active.values() if r.id not in seen]
    if len(missing) >= MANY_STRAGGLERS:
        wanted = {r.id for r in missing}
        pages = client.list_workflow_runs(state="running", limit=PAGE_SIZE)
        for run in pages:
            if run.id in wanted:
                seen[run.id] = run
        report.running_pages = pages.pages_fetched
        missing = [r for r in missing if r.id not in seen]
    for old in missing:
        try:
            seen[old.id] = client.get_workflow_run(old.id)
        except NotFoundError:
            report.vanished.append(old.id)
        report.reread += 1

    report.new_runs = sum(
        1 for run in seen.values()
        if watermark is None or (run.created_at or now) >= watermark - OVERLAP
    )
    store.upsert_runs(tenant, list(seen.values()), seen_at=now)
    store.mark_runs_vanished(tenant, report.vanished, at=now)
    store.set_watermark(tenant, RUNS_WATERMARK, now)

    report.ended = [
        run
        for run_id, run in seen.items()
        if run_id in previously_active and not run.state.is_active
    ]
    report.active = [run for run in seen.values() if run.state.is_active]
    report.odd = [run for run in seen.values() if run.is_partial]
    if report.vanished:
        log.warning("polled %s: vanished (404): %s", tenant, ", ".join(report.vanished))
    log.info("polled %s: %s", tenant, report.summary())
    return report


def poll_ingest_jobs(
    client: AmperityClient, store: Store, *, tenant: str, now: datetime
) -> IngestPollReport:
    """Read ingest jobs created since the watermark (and those still running) and store them.

    Args:
        client: The tenant's API client.
        store: The history store.
        tenant: The tenant name.
        now: The current time; becomes the new watermark.

    Returns:
        The jobs read, with their feeds.
    """
    watermark = store.get_watermark(tenant, INGEST_WATERMARK)
    since = (watermark - OVERLAP) if watermark else (now - INITIAL_LOOKBACK)
    # Feeds finish (or fail) hours after their job was created: keep re-reading recent jobs.
    since = min(since, now - INGEST_REFRESH)
    report = IngestPollReport(tenant=tenant, polled_at=now, listed_from=since)
    end = now + timedelta(seconds=1)
    # The client splits the span into the API's 7-day windows (one request each).
    jobs = {job.id: job for job in client.list_ingest_jobs(created_from=since, created_to=end)}
    report.windows = math.ceil((end - since) / INGEST_WINDOW)
    report.jobs = list(jobs.values())
    store.upsert_ingest_jobs(tenant, report.jobs, seen_at=now)
    store.set_watermark(tenant, INGEST_WATERMARK, now)
    return report


def backfill(
    client: AmperityClient,
    store: Store,
    *,
    tenant: str,
    since: datetime,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Load the history of workflow runs since ``since`` into the store, day by day.

    Args:
        client: The tenant's API client.
        store: The history store.
        tenant: The tenant name.
        since: The oldest start time to load.
        now: The current time (the end of the history).
        progress: Called with the number of runs stored so far after each day.

    Returns:
        How many runs were stored.
    """
    total = 0
    day = since
    while day < now:
        day_end = min(day + timedelta(days=1), now + timedelta(seconds=1))
        runs = list(
            client.list_workflow_runs(created_from=day, created_to=day_end, limit=PAGE_SIZE)
        )
        store.upsert_runs(tenant, runs, seen_at=now)
        total += len(runs)
        if progress is not None:
            progress(total)
        day = day_end
    return total
