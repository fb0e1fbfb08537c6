"""The store half of an SLA tick for every tenant read: batched reads, plans, batched writes.

The tenants are read from the API concurrently (``services/tenant_pool.py``); what they read
comes back here, to the calling thread, which does all the store work in a fixed number of
queries and transactions, whatever the number of tenants:

1. one transaction stores every run read, one marks every vanished run;
2. one query per question the plans need (baselines, stops in the last hour, stops already
   requested, dry-run notes, our stops of alerted runs that ended), for all tenants at once;
3. each tenant's plan, computed from those answers (pure, ``monitoring.plan_sla_tick``);
4. one transaction per table for the plans: alert tracks, the outbox, the stop ledger.

Why the calling thread and not the workers: a single writer per tick keeps SQLite's one write
lock uncontended (no ``database is locked`` waits between 32 threads), the batching above is
only possible with every tenant's reads in hand, and a worker left behind at its deadline can
never write a half-tick. Stops are still recorded *before* the sensor returns its RunRequests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from amperity_ops.core import NewStop, Requester
from amperity_ops.monitoring import OurStop, TickPlan, plan_sla_tick
from amperity_ops.monitoring.tick_inputs import plan_stop_ledger
from amperity_ops.monitoring.tick_report import StopToRequest, TenantTick
from amperity_ops.services.delivery import outbox_sink_ids

if TYPE_CHECKING:
    from amperity_ops.services.run_reads import TenantRead
    from amperity_ops.services.runtime import OpsRuntime

__all__ = ["TenantOutcome", "apply_tenant_reads"]


@dataclass
class TenantOutcome:
    """One tenant's share of the tick once planned and applied."""

    tick: TenantTick
    plan: TickPlan
    stops: list[StopToRequest]
    dry_lines: list[str]


def apply_tenant_reads(
    runtime: OpsRuntime,
    reads: Mapping[str, TenantRead],
    *,
    now: datetime,
    requester: Requester,
) -> dict[str, TenantOutcome]:
    """Store what was read, plan every tenant, and apply the plans, in batches.

    Args:
        runtime: Config and store.
        reads: Tenant name -> what its part of the tick read.
        now: The tick's time.
        requester: Who the tick records as asking for its stops (the SLA sensor).

    Returns:
        Tenant name -> its report, plan, stops to request and dry-run lines (same order).
    """
    store, config = runtime.store, runtime.config
    if not reads:
        return {}
    names = list(reads)
    store.upsert_runs_by_tenant({n: list(r.fresh.values()) for n, r in reads.items()},
                                seen_at=now)
    vanished = {n: r.tick.vanished for n, r in reads.items() if r.tick.vanished}
    if vanished:
        store.mark_runs_vanished_by_tenant(vanished, at=now)

    observed_ids = {n: list(r.observed) for n, r in reads.items()}
    baselines = (
        store.successful_runtimes_by_tenant(
            {n: sorted({run.name for run in r.observed.values()}) for n, r in reads.items()},
            limit=config.baseline.window,
        )
        if config.baseline.enabled
        else {}
    )
    # Alerted runs that ended: did we stop them? (RESOLVED says "stopped by amperity-ops".)
    ended_alerted = {
        n: [i for i, run in r.observed.items() if run.state.is_terminal and i in r.tracks]
        for n, r in reads.items()
    }
    our_stops = store.latest_real_stops_by_tenant(ended_alerted)
    stops_in_hour = store.stops_since_by_tenant(names, now - timedelta(hours=1))
    requested = store.ledger_ids_by_tenant(observed_ids, dry_run=False)
    noted = store.ledger_ids_by_tenant(observed_ids, dry_run=True, requester=requester)

    outcomes: dict[str, TenantOutcome] = {}
    ledger_rows: list[NewStop] = []
    for name, read in reads.items():
        plan = plan_sla_tick(
            tenant=name,
            runs=read.observed.values(),
            tracks=read.tracks,
            config=config,
            now=now,
            baseline_runtimes_s=baselines.get(name, {}),
            stops_in_last_hour=stops_in_hour.get(name, 0),
            stops_requested=requested.get(name, set()),
            dry_runs_noted=noted.get(name, set()),
            listing_complete=read.tick.cut_short is None,
            our_stops={
                run_id: OurStop(record.requester, record.reason)
                for run_id, record in our_stops.get(name, {}).items()
            },
        )
        ledger = plan_stop_ledger(plan, now=now, requester=requester)
        ledger_rows += ledger.rows
        read.tick.take_plan(plan)
        outcomes[name] = TenantOutcome(read.tick, plan, ledger.stops, ledger.dry_lines)

    # Apply: tracks, alerts, stop ledger, one transaction each for every tenant. Stops are
    # recorded *before* the sensor returns its RunRequests, so a crash in between can lose a
    # request but never send it twice.
    store.save_alert_tracks_by_tenant(
        {n: o.plan.track_updates for n, o in outcomes.items() if o.plan.track_updates}, now=now)
    alerts = [alert for o in outcomes.values() for alert in o.plan.alerts]
    if alerts:
        store.enqueue_alerts(alerts, outbox_sink_ids(config), now=now)
    store.record_stops_batch(ledger_rows)  # one statement, however many stops
    return outcomes
