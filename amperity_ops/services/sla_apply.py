"""The store half of an SLA tick for every tenant read: batched reads, plans, batched writes.

The tenants are read from the API concurrently (``services/tenant_pool.py``); what they read
comes back here, to the calling thread, which does all the store work in a fixed number of
queries and transactions, whatever the number of tenants:

1. one transaction stores every run read, one marks every vanished run;
2. one query per question the plans need (baselines, stops in the last hour, stops already
   requested, dry-run notes, our stops of alerted runs that ended, failed runs already
   alerted), for all tenants at once;
3. each tenant's plan, computed from those answers (pure, ``monitoring.plan_sla_tick``);
4. one transaction per table for the plans: alert tracks, the outbox, the stop ledger.

Why the calling thread and not the workers: a single writer per tick keeps SQLite's one write
lock uncontended (no ``database is locked`` waits between 32 threads), the batching above is
only possible with every tenant's reads in hand, and a worker left behind at its deadline can
never write a half-tick. Stops are still recorded *before* the sensor returns its RunRequests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from amperity_ops.client import WorkflowRun
from amperity_ops.core import NewStop, Requester
from amperity_ops.core.alerts import dedup_key
from amperity_ops.monitoring import OurStop, TickPlan, plan_sla_tick
from amperity_ops.monitoring.failures import failure_candidates
from amperity_ops.monitoring.stop_retry import (
    JobState,
    StopRetryPlan,
    apply_stop_retries,
    plan_stop_retries,
    still_requested,
)
from amperity_ops.monitoring.tick_inputs import plan_stop_ledger
from amperity_ops.monitoring.tick_report import StopToRequest, TenantTick
from amperity_ops.services.oncall import enqueue_routed, stop_holds_for

if TYPE_CHECKING:
    from amperity_ops.services.run_reads import TenantRead
    from amperity_ops.services.runtime import OpsRuntime
    from amperity_ops.store.stop_ledger import StopRecord

__all__ = ["TenantOutcome", "apply_tenant_reads"]

log = logging.getLogger(__name__)


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
    job_state: Callable[[str], JobState] | None = None,
) -> dict[str, TenantOutcome]:
    """Store what was read, plan every tenant, and apply the plans, in batches.

    Args:
        runtime: Config and store.
        reads: Tenant name -> what its part of the tick read.
        now: The tick's time.
        requester: Who the tick records as asking for its stops (the SLA sensor).
        job_state: What Dagster says of a stop job's run key (the sensor asks its instance).
            Given, the sensor's earlier stops that did not take are completed in the ledger
            and tried again (``monitoring.stop_retry``); None: they are left as they are.

    Returns:
        Tenant name -> its report, plan, stops to request and dry-run lines (same order).
    """
    store, config = runtime.store, runtime.config
    if not reads:
        return {}
    names = list(reads)
    changed, unchanged = _split_by_change(reads)
    store.upsert_runs_by_tenant(changed, seen_at=now)
    store.mark_runs_seen_by_tenant(unchanged, seen_at=now)
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

    silences = store.active_silences(now)  # once for every tenant (stop holds)
    # Runs that ended failed: already alerted? One query for every tenant (monitoring.failures).
    failures_alerted = store.keys_in_outbox(
        dedup_key(n, run.id) for n, r in reads.items()
        for run in failure_candidates(r.observed.values(), tracked=r.tracks, now=now)
    ) if config.alert_on_failed_runs else set()
    tenants = {t.name: t for t in config.tenants}  # (config.tenant(name) walks the list)
    attempts = _stop_attempts(runtime, names, requested, requester, job_state)
    outcomes: dict[str, TenantOutcome] = {}
    ledger_rows: list[NewStop] = []
    for name, read in reads.items():
        asked = requested.get(name, set())
        retries = _stop_retries(runtime, name, attempts.get(name), job_state, now)
        plan = plan_sla_tick(
            tenant=name,
            runs=read.observed.values(),
            tracks=read.tracks,
            config=config,
            now=now,
            baseline_runtimes_s=baselines.get(name, {}),
            stops_in_last_hour=stops_in_hour.get(name, 0),
            stops_requested=still_requested(asked, retries),
            dry_runs_noted=noted.get(name, set()),
            listing_complete=read.tick.cut_short is None,
            our_stops={
                run_id: OurStop(record.requester, record.reason)
                for run_id, record in our_stops.get(name, {}).items()
            },
            stop_holds=stop_holds_for(
                runtime, name, [(r.id, r.name) for r in read.observed.values()], now=now,
                silences=silences,
            ),
            failures_alerted=failures_alerted,
        )
        # Before the ledger and the outbox: a retry adds a stop, a give-up adds an alert.
        apply_stop_retries(plan, retries, now=now, link_for=tenants[name].run_link)
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
        enqueue_routed(runtime, alerts, now=now)  # rules, silences, quiet hours
    store.record_stops_batch(ledger_rows)  # one statement, however many stops
    return outcomes


def _split_by_change(
    reads: Mapping[str, TenantRead],
) -> tuple[dict[str, list[WorkflowRun]], dict[str, list[str]]]:
    """The runs read this tick: those to write, and the ids of those equal to their stored self.

    A running run read again unchanged (the common case: most runs run for minutes to hours)
    needs only its ``last_seen`` moved, not its whole row rewritten.
    """
    changed: dict[str, list[WorkflowRun]] = {}
    unchanged: dict[str, list[str]] = {}
    for name, read in reads.items():
        stored = {run.id: run for run in read.stored}
        for run in read.fresh.values():
            if stored.get(run.id) == run:
                unchanged.setdefault(name, []).append(run.id)
            else:
                changed.setdefault(name, []).append(run)
    return changed, unchanged


def _stop_attempts(
    runtime: OpsRuntime,
    names: list[str],
    requested: Mapping[str, set[str]],
    requester: Requester,
    job_state: Callable[[str], JobState] | None,
) -> dict[str, list[StopRecord]]:
    """The sensor's ledger rows of every tenant's runs it asked to stop, in two queries.

    The runs still observed that it asked to stop, and the runs with a row still open (ended
    meanwhile, no longer observed: their rows are completed too). Tenants without: absent.
    """
    if job_state is None:
        return {}
    store = runtime.store
    still_open = store.open_stop_ids_by_tenant(names, requester=requester)
    ids = {n: requested.get(n, set()) | still_open.get(n, set()) for n in names}
    found = store.stop_attempts_by_tenant({n: i for n, i in ids.items() if i},
                                          requester=requester)
    return {n: rows for n, rows in found.items() if rows}


def _stop_retries(
    runtime: OpsRuntime,
    tenant: str,
    rows: list[StopRecord] | None,
    job_state: Callable[[str], JobState] | None,
    now: datetime,
) -> StopRetryPlan:
    """Complete the sensor's open ledger rows whose stop job is over; plan the next attempts."""
    if job_state is None or not rows:
        return StopRetryPlan()
    retries = plan_stop_retries(rows, job_state=job_state, now=now)
    for done in retries.completions:
        runtime.store.finish_stop(done.row_id, result=done.result, state_after=None,
                                  finished_at=now, detail=done.detail)
        log.warning("SLA tick: %s: %s", tenant, done.detail)
    return retries
