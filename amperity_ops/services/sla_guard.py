"""One SLA sensor tick: read active runs, plan with ``monitoring.plan_sla_tick``, act on the plan.

Requests per tenant per tick, in steady state, are exactly two listings:

1. ``GET /workflow/runs?state=running`` (every page): the runs that are running now.
2. ``GET /workflow/runs?ended_from=<previous tick - overlap>``: the runs that ended since the
   previous tick, so their alerts resolve with their final state.

Runs the history store still holds as active but neither listing returned (paused, running
with failures, finalizing ...) are evaluated as last seen: their runtime still grows from
``created_at``, and the polling asset refreshes their state every few minutes. Only such a run
with an *open alert* is re-read by id (so an alert resolves, or a vanished run is noticed, on
the next tick); a stop is never sent on this stale view: the stop job re-reads the run first.
A run that answers 404 is marked vanished in the store, so it is not re-read again.

The time budget is checked between tenants *and* inside one tenant: between listing pages and
between re-reads by id. A tenant cut short is evaluated on what was read plus the store's view
of the rest (so nothing is missed, only less fresh), alerted runs it did not reach are neither
resolved nor re-read, and the next tick starts with the following tenant (the cursor's
``resume_tenant``). Re-reads go stalest first, so each tick reaches the runs the last one did
not.

Everything else is the store's job: alert tracks, the outbox (alerts are enqueued, then due
ones are delivered at least once), and the stop ledger that makes a second tick, or a fresh
process, never ask for the same stop again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from amperity_ops.client import AmperityError, WorkflowRun
from amperity_ops.core import Requester
from amperity_ops.monitoring import OurStop, TickPlan, plan_sla_tick
from amperity_ops.monitoring.stop_retry import (
    JobState,
    StopRetryPlan,
    apply_stop_retries,
    plan_stop_retries,
    still_requested,
)
from amperity_ops.monitoring.tick_inputs import (
    ENDED_OVERLAP,
    LOST_STOP_AFTER,
    ended_from,
    lost_stops,
    plan_rereads,
    plan_stop_ledger,
)
from amperity_ops.monitoring.tick_report import (
    SlaTickResult,
    StopToRequest,
    TenantTick,
    cut_short_note,
)
from amperity_ops.services.delivery import deliver_outbox
from amperity_ops.services.oncall import enqueue_routed, maybe_enqueue_digest, stop_holds_for
from amperity_ops.services.run_reads import LISTED_STATES, never, read_listings, reread_unlisted
from amperity_ops.services.tenants import describe_tenant_error, rotate
from amperity_ops.settings import ConfigError

if TYPE_CHECKING:
    from amperity_ops.client import AmperityClient
    from amperity_ops.services.runtime import OpsRuntime
    from amperity_ops.settings import TenantConfig

__all__ = [
    "ENDED_OVERLAP",
    "LISTED_STATES",
    "LOST_STOP_AFTER",
    "SlaTickResult",
    "StopToRequest",
    "TenantTick",
    "lost_stop_requests",
    "run_sla_tick",
    "tick_tenant",
]

log = logging.getLogger(__name__)

MIN_DELIVERY_S = 5.0
"""Delivery always gets at least this long, even after a slow read: alerts are the point."""
SLA_SENSOR = Requester.sensor("amperity_workflow_sla_sensor")
"""Who the SLA tick records as asking for its stops (matched by kind, so a rename is safe)."""


def tick_tenant(
    runtime: OpsRuntime,
    tenant: TenantConfig,
    client: AmperityClient,
    *,
    now: datetime,
    last_tick_at: datetime | None,
    out_of_time: Callable[[], bool] = never,
    job_state: Callable[[str], JobState] | None = None,
) -> tuple[TenantTick, TickPlan, list[StopToRequest], list[str]]:
    """One tenant's part of the tick: read, plan, and apply the plan to the store.

    Args:
        runtime: Config and store.
        tenant: The tenant.
        client: Its API client.
        now: The tick's time.
        last_tick_at: When the previous tick started (None: first tick).
        out_of_time: True once the tick's time budget is spent: no further page or re-read
            is requested (``TenantTick.cut_short`` says what was left).
        job_state: What Dagster says of a stop job's run key (the sensor asks its instance).
            Given, the sensor's earlier stops that did not take are completed in the ledger
            and tried again (``monitoring.stop_retry``); None: they are left as they are.

    Returns:
        (what was read, the plan, the stops to request, the dry-run lines).
    """
    store, config = runtime.store, runtime.config
    tick = TenantTick(tenant=tenant.name)
    running, ended, complete = read_listings(
        client, ended_from=ended_from(now, last_tick_at), tick=tick, out_of_time=out_of_time
    )
    tracks = store.open_alert_tracks(tenant.name)
    fresh: dict[str, WorkflowRun] = {**ended, **running}
    observed = dict(fresh)
    rereads = plan_rereads(store.active_runs(tenant.name, stalest_first=True), observed,
                           tracks, listing_complete=complete)
    skipped = reread_unlisted(client, rereads, observed=observed, fresh=fresh, tick=tick,
                              out_of_time=out_of_time)
    if fresh:
        store.upsert_runs(tenant.name, list(fresh.values()), seen_at=now)
    if tick.vanished:
        store.mark_runs_vanished(tenant.name, tick.vanished, at=now)
    tick.cut_short = cut_short_note(listing_complete=complete, running_read=len(running),
                                    skipped_rereads=skipped)

    baselines = (
        store.successful_runtimes(
            tenant.name, sorted({r.name for r in observed.values()}), limit=config.baseline.window
        )
        if config.baseline.enabled
        else {}
    )
    # Alerted runs that ended: did we stop them? (RESOLVED says "stopped by amperity-ops".)
    ended_alerted = [i for i, r in observed.items() if r.state.is_terminal and i in tracks]
    our_stops = {
        run_id: OurStop(record.requester, record.reason)
        for run_id, record in store.latest_real_stops(tenant.name, ended_alerted).items()
    }
    requested = store.stop_requested_ids(tenant.name, list(observed))
    retries = _stop_retries(runtime, tenant.name, requested, job_state, now)
    plan = plan_sla_tick(
        tenant=tenant.name,
        runs=observed.values(),
        tracks=tracks,
        config=config,
        now=now,
        baseline_runtimes_s=baselines,
        stops_in_last_hour=store.stops_since(tenant.name, now - timedelta(hours=1)),
        stops_requested=still_requested(requested, retries),
        dry_runs_noted=store.dry_run_noted_ids(
            tenant.name, list(observed), requester=SLA_SENSOR
        ),
        listing_complete=tick.cut_short is None,
        our_stops=our_stops,
        stop_holds=stop_holds_for(
            runtime, tenant.name, [(r.id, r.name) for r in observed.values()], now=now
        ),
    )

    # Apply: tracks, alerts, stop ledger. Stops are recorded *before* the sensor returns its
    # RunRequests, so a crash in between can lose a request but never send it twice.
    if plan.track_updates:
        store.save_alert_tracks(tenant.name, plan.track_updates, now=now)
    apply_stop_retries(plan, retries, now=now, link_for=tenant.run_link)
    if plan.alerts:
        enqueue_routed(runtime, plan.alerts, now=now)  # rules, silences, quiet hours
    ledger = plan_stop_ledger(plan, now=now, requester=SLA_SENSOR)
    store.record_stops(ledger.rows)  # one transaction, however many stops
    tick.take_plan(plan)
    return tick, plan, ledger.stops, ledger.dry_lines


def _stop_retries(
    runtime: OpsRuntime,
    tenant: str,
    requested: set[str],
    job_state: Callable[[str], JobState] | None,
    now: datetime,
) -> StopRetryPlan:
    """Complete the sensor's open ledger rows whose stop job is over; plan the next attempts."""
    if job_state is None:
        return StopRetryPlan()
    store = runtime.store
    # Open rows of runs no longer observed (ended meanwhile) are completed too.
    ids = requested | store.open_stop_ids(tenant, requester=SLA_SENSOR)
    if not ids:
        return StopRetryPlan()
    rows = store.stop_attempts(tenant, ids, requester=SLA_SENSOR)
    retries = plan_stop_retries(rows, job_state=job_state, now=now)
    for done in retries.completions:
        store.finish_stop(done.row_id, result=done.result, state_after=None, finished_at=now,
                          detail=done.detail)
        log.warning("SLA tick: %s: %s", tenant, done.detail)
    return retries


def _sent(client: AmperityClient | None, fallback: int) -> int:
    """The requests the client sent (retries and failures included), else ``fallback``."""
    sent = getattr(client, "requests_sent", None)
    return sent if isinstance(sent, int) else fallback


def lost_stop_requests(
    runtime: OpsRuntime, *, now: datetime, job_exists: Callable[[str], bool]
) -> list[StopToRequest]:
    """Stops this sensor recorded that never became a Dagster run: request each once more.

    The ledger row is written before the sensor returns its RunRequest, so a tick whose result
    never reached Dagster (over its time limit, a crash) leaves a row no job will finish. A row
    unfinished after ``LOST_STOP_AFTER`` with no run for its run key is such a loss; its stop is
    requested again with the same run key, once (the row remembers it), and only while
    auto-stop is on and the run is still active as far as the store knows.

    Args:
        runtime: Config and store.
        now: The tick's time.
        job_exists: Whether Dagster has a run with this run key (the sensor asks its instance).

    Returns:
        The stops to request again (already marked in the ledger).
    """
    auto_stop = runtime.config.auto_stop
    if not auto_stop.enabled or auto_stop.dry_run:
        return []
    store = runtime.store
    again: list[StopToRequest] = []
    for tenant in runtime.tenants:
        candidates = store.unlaunched_stops(
            tenant.name, requester=SLA_SENSOR, before=now - LOST_STOP_AFTER
        )
        if not candidates:
            continue
        active = {run.id for run in store.active_runs(tenant.name)}  # not ended, not vanished
        ids: list[int] = []
        for record in lost_stops(candidates, active=active, job_exists=job_exists):
            again.append(
                StopToRequest(
                    tenant.name, record.workflow_id, record.workflow_name, record.run_key,
                    record.reason,
                )
            )
            ids.append(record.id)
        store.mark_stops_rerequested(ids, at=now)
    for stop in again:
        log.warning("SLA tick: stop %s was recorded but never launched: requesting it again",
                    stop.run_key)
    return again


def run_sla_tick(
    runtime: OpsRuntime,
    *,
    now: datetime,
    budget_s: float,
    resume_tenant: str | None = None,
    last_tick_at: datetime | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    deliver: bool = True,
    job_state: Callable[[str], JobState] | None = None,
) -> SlaTickResult:
    """Run one SLA tick over every tenant, within a time budget, then deliver due alerts.

    Args:
        runtime: Config, store and the way to reach each tenant.
        now: The tick's time (from the runtime's clock).
        budget_s: Stop starting new tenants after this many seconds; the rest wait for the next
            tick (``resume_tenant``). Delivery gets whatever budget is left, at least a little.
        resume_tenant: Start with this tenant (from the sensor's cursor).
        last_tick_at: When the previous tick started (bounds the ended-runs listing).
        monotonic: Elapsed-time source (injected in tests).
        deliver: Deliver due alerts from the outbox at the end (False in some benchmarks).
        job_state: What Dagster says of a stop job's run key (see :func:`tick_tenant`).

    Returns:
        What was read, decided and requested.
    """
    start = monotonic()

    def out_of_time() -> bool:
        return monotonic() - start > budget_s

    result = SlaTickResult(started_at=now)
    names = rotate([t.name for t in runtime.tenants], resume_tenant)
    for index, name in enumerate(names):
        if index > 0 and out_of_time():
            result.resume_tenant = name
            log.warning("SLA tick: time budget of %.0fs spent; %s next tick", budget_s, name)
            break
        tenant = runtime.tenant(name)
        client: AmperityClient | None = None
        try:
            with runtime.client_factory(tenant) as client:
                tick, _plan, stops, dry = tick_tenant(
                    runtime,
                    tenant,
                    client,
                    now=now,
                    last_tick_at=last_tick_at,
                    out_of_time=out_of_time,
                    job_state=job_state,
                )
            tick.requests = _sent(client, tick.requests)
        except (AmperityError, ConfigError) as err:  # one tenant down must not silence others
            result.failed_tenant_requests += _sent(client, 0)
            result.errors[name] = describe_tenant_error(tenant, err)
            log.warning("SLA tick: tenant %s: %s", name, result.errors[name])
            continue
        result.tenants.append(tick)
        result.stop_requests += stops
        result.dry_runs += dry
        if tick.cut_short:
            # This tenant had its turn, if a short one; the next tick starts with the one
            # after it, so a huge tenant cannot starve the others (alone, it is next again).
            result.resume_tenant = names[(index + 1) % len(names)]
            log.warning("SLA tick: %s: %s", name, tick.cut_short)
            break
    # The daily digest rides on the tick: one cheap look-up, and a tick missed while the
    # daemon was down is made up by the next one (a schedule would skip it).
    result.digest = maybe_enqueue_digest(runtime, now=now)
    if deliver:
        spent = monotonic() - start
        result.delivery = deliver_outbox(
            runtime, now=now, max_seconds=max(budget_s - spent, MIN_DELIVERY_S)
        )
    result.elapsed_s = monotonic() - start
    return result
