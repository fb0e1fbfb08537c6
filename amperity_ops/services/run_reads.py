"""The SLA tick's reads of one tenant: the two listings, and re-reads of unlisted alerted runs.

Each read is counted on the tenant's :class:`~amperity_ops.monitoring.tick_report.TenantTick`,
and the time budget is checked between pages and between re-reads (see
``services/sla_guard.py``). What to list and what to re-read are decided in
:mod:`amperity_ops.monitoring.tick_inputs`; this module only reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from amperity_ops.client import NotFoundError, WorkflowRun
from amperity_ops.core import AlertTrack
from amperity_ops.monitoring.tick_inputs import ReReads, ended_from, plan_rereads
from amperity_ops.monitoring.tick_report import TenantTick, cut_short_note
from amperity_ops.services.poll import PAGE_SIZE

if TYPE_CHECKING:
    from amperity_ops.client import AmperityClient

__all__ = [
    "LISTED_STATES",
    "TenantRead",
    "list_runs",
    "never",
    "read_listings",
    "read_tenant",
    "reread_unlisted",
]

LISTED_STATES: tuple[str, ...] = ("running",)
"""The ``state`` filter values listed each tick. The API filters on one value per request, so
each value costs a request; other active states are covered as ``services/sla_guard.py`` says."""


def never() -> bool:
    """A time budget that never runs out."""
    return False


def list_runs(
    client: AmperityClient,
    out_of_time: Callable[[], bool],
    tick: TenantTick,
    **filters: object,
) -> tuple[dict[str, WorkflowRun], bool]:
    """Every run of one listing, unless the time runs out between pages.

    Returns:
        (runs by id, True if the listing was read to its end).
    """
    pages = client.list_workflow_runs(limit=PAGE_SIZE, **filters)  # type: ignore[arg-type]
    runs: dict[str, WorkflowRun] = {}
    complete = True
    try:
        while True:
            # Pages hold PAGE_SIZE runs: the next item after a full page means a new request.
            if runs and len(runs) % PAGE_SIZE == 0 and out_of_time():
                complete = False
                break
            run = next(pages, None)
            if run is None:
                break
            runs[run.id] = run
    finally:
        tick.requests += pages.pages_fetched
    return runs, complete


def read_listings(
    client: AmperityClient,
    *,
    ended_from: datetime,
    tick: TenantTick,
    out_of_time: Callable[[], bool] = never,
) -> tuple[dict[str, WorkflowRun], dict[str, WorkflowRun], bool]:
    """The two listings: running runs, and runs that ended since ``ended_from``.

    Returns:
        (running runs, ended runs, True if both listings were read to their end).
    """
    running: dict[str, WorkflowRun] = {}
    for state in LISTED_STATES:
        found, complete = list_runs(client, out_of_time, tick, state=state)
        running.update(found)
        if not complete:
            return running, {}, False
    if out_of_time():
        return running, {}, False
    ended, complete = list_runs(client, out_of_time, tick, ended_from=ended_from)
    return running, ended, complete


def reread_unlisted(
    client: AmperityClient,
    rereads: ReReads,
    *,
    observed: dict[str, WorkflowRun],
    fresh: dict[str, WorkflowRun],
    tick: TenantTick,
    out_of_time: Callable[[], bool] = never,
) -> int:
    """Re-read the runs ``rereads`` names while time lasts; the rest are observed as stored.

    A re-read run goes into ``fresh`` and ``observed``; one that answers 404 goes into
    ``tick.vanished`` and is left out of ``observed`` (``plan_sla_tick`` resolves its alert as
    vanished). Every other unlisted run is observed as last stored.

    Returns:
        How many alerted runs were not re-read (the listing was cut short, or time ran out).
    """
    skipped = rereads.skipped
    for known in rereads.unlisted:
        if known.id in rereads.reread:
            if not out_of_time():
                tick.requests += 1
                try:
                    fresh[known.id] = observed[known.id] = client.get_workflow_run(known.id)
                except NotFoundError:
                    tick.vanished.append(known.id)
                continue
            skipped += 1
        observed[known.id] = known  # still active as last seen
    return skipped


@dataclass
class TenantRead:
    """Everything one tenant's part of the tick read from the API (no store write yet)."""

    tick: TenantTick
    observed: dict[str, WorkflowRun] = field(default_factory=dict)
    """Every run to evaluate: as read this tick, or as last stored."""
    fresh: dict[str, WorkflowRun] = field(default_factory=dict)
    """The runs read this tick (to store)."""
    tracks: Mapping[str, AlertTrack] = field(default_factory=dict)
    """The tenant's open alert tracks, as the store had them before the tick."""
    stored: Sequence[WorkflowRun] = ()
    """The tenant's active runs as the store had them before the tick: a fresh run equal to
    its stored self is not written again, only marked seen (``apply_tenant_reads``)."""


def read_tenant(
    client: AmperityClient,
    *,
    tenant: str,
    known_stalest_first: Sequence[WorkflowRun],
    tracks: Mapping[str, AlertTrack],
    now: datetime,
    last_tick_at: datetime | None,
    out_of_time: Callable[[], bool] = never,
) -> TenantRead:
    """One tenant's reads: the two listings, then re-reads of unlisted alerted runs.

    Pure API work on what the store said before the tick (``known_stalest_first``,
    ``tracks``): it writes nothing, so it may run in a worker thread, and a tenant left behind
    at its deadline leaves no half-written state.

    Args:
        client: The tenant's client.
        tenant: The tenant's name.
        known_stalest_first: The store's active runs of the tenant, least recently seen first.
        tracks: The tenant's open alert tracks.
        now: The tick's time.
        last_tick_at: When the previous tick started (None: first tick).
        out_of_time: True once no further page or re-read may be requested.
    """
    tick = TenantTick(tenant=tenant)
    running, ended, complete = read_listings(
        client, ended_from=ended_from(now, last_tick_at), tick=tick, out_of_time=out_of_time
    )
    fresh: dict[str, WorkflowRun] = {**ended, **running}
    observed = dict(fresh)
    rereads = plan_rereads(known_stalest_first, observed, tracks, listing_complete=complete)
    skipped = reread_unlisted(client, rereads, observed=observed, fresh=fresh, tick=tick,
                              out_of_time=out_of_time)
    tick.cut_short = cut_short_note(listing_complete=complete, running_read=len(running),
                                    skipped_rereads=skipped)
    return TenantRead(tick=tick, observed=observed, fresh=fresh, tracks=tracks,
                      stored=known_stalest_first)
