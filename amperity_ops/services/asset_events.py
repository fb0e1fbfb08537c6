"""One asset-event tick: what the store learned since the last one, told to Dagster once.

This tick makes **no API request**. The SLA sensor lists the runs that ended since its previous
tick every minute and writes them to the history store (as do the polling asset and the catalog
refresh); the ingest sensor and the polling asset keep ingest jobs and feeds there. This tick
reads the store, plans with :func:`amperity_ops.monitoring.asset_events.plan_asset_events`, and
records what it reports in ``ao_reported_events`` before returning it, so a restart never
reports a run twice. (The price: a tick whose result never reaches Dagster, a crash between the
record and Dagster's write, loses that tick's events rather than repeating them; the next run
of each workflow reports again.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from amperity_ops.monitoring.asset_events import AssetEventPlan, plan_asset_events
from amperity_ops.monitoring.sla import SlaEvaluation, evaluate_sla, resolve_sla

if TYPE_CHECKING:
    from amperity_ops.client import WorkflowRun
    from amperity_ops.services.runtime import OpsRuntime

__all__ = [
    "FIRST_LOOKBACK",
    "MAX_LOOKBACK",
    "AssetEventTick",
    "TenantAssets",
    "plan_tenant_events",
    "run_asset_event_tick",
]

log = logging.getLogger(__name__)

FIRST_LOOKBACK = timedelta(days=1)
"""With nothing reported yet, runs that ended this far back are read (each asset then gets
only its latest one; older latest runs come from ``latest_finished_runs``)."""
MAX_LOOKBACK = timedelta(days=7)
"""Never read further back than this for runs ended since the last report: an asset silent
for a month does not make every tick re-read a month of history."""
INGEST_LOOKBACK = timedelta(days=2)
"""Ingest jobs created or ended this recently are looked at (their feeds end hours later)."""


@dataclass(frozen=True)
class TenantAssets:
    """The assets one tenant has in the code location (from its catalog)."""

    tenant: str
    workflows: frozenset[str]
    tables: frozenset[str]


@dataclass
class AssetEventTick:
    """What one tick planned per tenant."""

    plans: dict[str, AssetEventPlan] = field(default_factory=dict)

    def summary(self) -> str:
        """One line per tenant: how many events, and workflows missing from the catalog."""
        parts = []
        for tenant, plan in self.plans.items():
            text = (f"{tenant}: {len(plan.outcomes)} finished run(s), "
                    f"{sum(o.materialize for o in plan.outcomes)} materialized, "
                    f"{len(plan.sla_checks)} SLA check(s), {len(plan.loads)} table load(s)")
            if plan.unknown_workflows:
                text += (f"; not in the catalog (no asset): "
                         f"{', '.join(sorted(plan.unknown_workflows)[:5])}: run "
                         "`amperity-ops catalog refresh`")
            parts.append(text)
        return "; ".join(parts) or "no tenant has a catalog yet: run `amperity-ops catalog refresh`"


def _evaluator(runtime: OpsRuntime, now: datetime) -> Callable[[WorkflowRun], SlaEvaluation]:
    def evaluate(run: WorkflowRun) -> SlaEvaluation:
        return evaluate_sla(run, resolve_sla(run, runtime.config), now)

    return evaluate


def plan_tenant_events(
    runtime: OpsRuntime, assets: TenantAssets, *, now: datetime
) -> AssetEventPlan:
    """Read one tenant's store, plan its events and record them as reported.

    Args:
        runtime: Config and store (no client is used).
        assets: The tenant's workflow and table assets.
        now: The tick's time.

    Returns:
        The plan; its rows are already recorded.
    """
    store, tenant = runtime.store, assets.tenant
    last = store.last_reported_at(tenant)
    refs = {f"workflow:{n}" for n in assets.workflows} | {f"table:{t}" for t in assets.tables}
    known = [last[r] for r in refs if r in last]
    since = max(min(known, default=now - FIRST_LOOKBACK), now - MAX_LOOKBACK)
    finished = store.runs_ended_since(tenant, since)
    fresh = [n for n in assets.workflows if f"workflow:{n}" not in last]
    latest = store.latest_finished_runs(tenant, fresh)
    active = store.active_runs(tenant)
    jobs = store.ingest_jobs_since(tenant, min(since, now - INGEST_LOOKBACK))
    subjects = ([r.id for r in finished] + [r.id for r in latest.values()]
                + [r.id for r in active] + [j.id for j in jobs])
    plan = plan_asset_events(
        workflows=assets.workflows, tables=assets.tables, finished=finished,
        latest_finished=latest, active=active, jobs=jobs,
        reported=store.reported_pairs(tenant, subjects), last_reported=last,
        evaluate=_evaluator(runtime, now),
    )
    if plan.rows:
        store.record_reported(
            tenant, [(r.subject, r.event, r.asset, r.happened_at) for r in plan.rows], now=now)
    return plan


def run_asset_event_tick(
    runtime: OpsRuntime, assets: Mapping[str, TenantAssets], *, now: datetime
) -> AssetEventTick:
    """Plan and record the events of every tenant that has assets (no API request).

    Args:
        runtime: Config and store.
        assets: Tenant name -> its assets; tenants not in the runtime's config are skipped.
        now: The tick's time.
    """
    tick = AssetEventTick()
    configured = {t.name for t in runtime.tenants}
    for name, tenant_assets in assets.items():
        if name not in configured:
            log.warning("asset events: tenant %s has a catalog but is not configured", name)
            continue
        tick.plans[name] = plan_tenant_events(runtime, tenant_assets, now=now)
    return tick
