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

Tenants are read concurrently (``sensor.concurrency`` threads, ``services/tenant_pool.py``):
each has its own client and request budget, so no tenant sends more than it may, and each has
its own deadline (``sensor.tenant_timeout``): one that hangs is left behind and reported while
the others go on. The workers only read the API; the store work (what the tenants knew before,
what was read, the plans' tracks, alerts and stops) happens in the calling thread, a fixed
number of queries and transactions per tick whatever the number of tenants
(``services/sla_apply.py``).

The time budget is checked before each tenant is started *and* inside one tenant: between
listing pages and between re-reads by id. A tenant cut short is evaluated on what was read plus
the store's view of the rest (so nothing is missed, only less fresh), alerted runs it did not
reach are neither resolved nor re-read. Tenants are started in order, so those the budget did
not reach are the tail of the order: the next tick starts with the first of them (the cursor's
``resume_tenant``) and the tenants already evaluated go after them. Re-reads go stalest first,
so each tick reaches the runs the last one did not.

Everything else is the store's job: alert tracks, the outbox (alerts are enqueued, then due
ones are delivered at least once), and the stop ledger that makes a second tick, or a fresh
process, never ask for the same stop again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from amperity_ops.core import Requester
from amperity_ops.monitoring import TickPlan
from amperity_ops.monitoring.stop_retry import JobState
from amperity_ops.monitoring.tick_inputs import ENDED_OVERLAP, LOST_STOP_AFTER, lost_stops
from amperity_ops.monitoring.tick_report import SlaTickResult, StopToRequest, TenantTick
from amperity_ops.services.delivery import deliver_outbox
from amperity_ops.services.oncall import maybe_enqueue_digest
from amperity_ops.services.run_reads import LISTED_STATES, TenantRead, never, read_tenant
from amperity_ops.services.sla_apply import apply_tenant_reads
from amperity_ops.services.tenant_pool import OutOfTime, run_tenants
from amperity_ops.services.tenants import rotate

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

    The tick itself reads many tenants at once and applies their plans together
    (:func:`run_sla_tick`); this is the same work for one tenant, in the calling thread.

    Args:
        runtime: Config and store.
        tenant: The tenant.
        client: Its API client.
        now: The tick's time.
        last_tick_at: When the previous tick started (None: first tick).
        out_of_time: True once the tick's time budget is spent: no further page or re-read
            is requested (``TenantTick.cut_short`` says what was left).
        job_state: What Dagster says of a stop job's run key (see :func:`run_sla_tick`).

    Returns:
        (what was read, the plan, the stops to request, the dry-run lines).
    """
    store = runtime.store
    read = read_tenant(
        client,
        tenant=tenant.name,
        known_stalest_first=store.active_runs_by_tenant([tenant.name])[tenant.name],
        tracks=store.open_alert_tracks_by_tenant([tenant.name])[tenant.name],
        now=now,
        last_tick_at=last_tick_at,
        out_of_time=out_of_time,
    )
    done = apply_tenant_reads(runtime, {tenant.name: read}, now=now, requester=SLA_SENSOR,
                              job_state=job_state)
    outcome = done[tenant.name]
    return outcome.tick, outcome.plan, outcome.stops, outcome.dry_lines


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
    # One query for every tenant (a partial index holds the unfinished rows), then the
    # active runs of only the few tenants that have a candidate.
    unlaunched = store.unlaunched_stops_by_tenant(
        [t.name for t in runtime.tenants], requester=SLA_SENSOR, before=now - LOST_STOP_AFTER
    )
    if not unlaunched:
        return []
    active_by_tenant = store.active_runs_by_tenant(list(unlaunched))
    ids: list[int] = []
    for tenant, candidates in unlaunched.items():
        active = {run.id for run in active_by_tenant[tenant]}  # not ended, not vanished
        for record in lost_stops(candidates, active=active, job_exists=job_exists):
            again.append(
                StopToRequest(
                    tenant, record.workflow_id, record.workflow_name, record.run_key,
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

    Tenants are read concurrently, ``sensor.concurrency`` at a time, each with its own client,
    request budget and ``sensor.tenant_timeout``; their plans are then applied in this thread,
    in batches (``services/sla_apply.py``).

    Args:
        runtime: Config, store and the way to reach each tenant.
        now: The tick's time (from the runtime's clock).
        budget_s: Stop starting new tenants after this many seconds; the rest wait for the next
            tick (``resume_tenant``). Delivery gets whatever budget is left, at least a little.
        resume_tenant: Start with this tenant (from the sensor's cursor).
        last_tick_at: When the previous tick started (bounds the ended-runs listing).
        monotonic: Elapsed-time source (injected in tests).
        deliver: Deliver due alerts from the outbox at the end (False in some benchmarks).
        job_state: What Dagster says of a stop job's run key (the sensor asks its instance):
            given, stops that did not take are completed and retried (``monitoring.stop_retry``).

    Returns:
        What was read, decided and requested. ``resume_tenant`` is the first tenant the
        budget did not start (the tenants not started go first next tick; a tenant cut short
        or left behind at its timeout goes after them, so it cannot starve the others).
    """
    start = monotonic()
    result = SlaTickResult(started_at=now)
    store, sensor = runtime.store, runtime.config.sensor
    names = rotate([t.name for t in runtime.tenants], resume_tenant)
    # What the store knew before the tick, for every tenant in two queries; the workers read
    # the API only, so a tenant left behind at its deadline writes nothing.
    store_started = time.perf_counter()  # a measurement, not the budget: not `monotonic`
    known = store.active_runs_by_tenant(names)
    tracks = store.open_alert_tracks_by_tenant(names)
    store_s = time.perf_counter() - store_started

    failed_sent: dict[str, int] = {}  # requests of tenants that failed mid-tick count too

    def read(tenant: TenantConfig, client: AmperityClient, out_of_time: OutOfTime) -> TenantRead:
        try:
            done = read_tenant(client, tenant=tenant.name, known_stalest_first=known[tenant.name],
                               tracks=tracks[tenant.name], now=now, last_tick_at=last_tick_at,
                               out_of_time=out_of_time)
        except BaseException:
            failed_sent[tenant.name] = sent_by(client, 0)
            raise
        done.tick.requests = sent_by(client, done.tick.requests)
        return done

    pool = run_tenants(
        [runtime.tenant(name) for name in names],
        read,
        factory=runtime.client_factory,
        concurrency=sensor.concurrency,
        tenant_timeout_s=sensor.tenant_timeout.total_seconds(),
        budget_s=budget_s,
        monotonic=monotonic,
    )
    result.errors.update(pool.errors)
    result.failed_tenant_requests = sum(failed_sent.get(name, 0) for name in pool.errors)
    result.resume_tenant = pool.resume_tenant
    if result.resume_tenant:
        log.warning("SLA tick: time budget of %.0fs spent; %s next tick", budget_s,
                    result.resume_tenant)
    reads = {name: pool.results[name] for name in names if name in pool.results}
    store_started = time.perf_counter()
    for name, outcome in apply_tenant_reads(runtime, reads, now=now, requester=SLA_SENSOR,
                                            job_state=job_state).items():
        result.tenants.append(outcome.tick)
        result.stop_requests += outcome.stops
        result.dry_runs += outcome.dry_lines
        if outcome.tick.cut_short:
            log.warning("SLA tick: %s: %s", name, outcome.tick.cut_short)
    result.store_s = store_s + time.perf_counter() - store_started
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


def sent_by(client: AmperityClient | None, fallback: int) -> int:
    """The requests the client sent (retries and failures included), else ``fallback``."""
    sent = getattr(client, "requests_sent", None)
    return sent if isinstance(sent, int) else fallback
