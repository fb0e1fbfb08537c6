"""The polled assets (workflow runs, ingest jobs) and the cheap inventory assets.

Several tenants, one asset: each materialization polls every tenant in the policy file (each
with its own client, credentials and rate budget) and shows them side by side, with a
``tenant`` column in every table. One unpartitioned asset keeps the UI's plots of ``active``,
``breached``, ``failed`` and ``p95_runtime_minutes`` a single line over time, and a tenant that
cannot be reached turns the ``all_tenants_polled`` check red without hiding the others.

The two polling assets read ``sensor.concurrency`` tenants at a time inside their one run
(threads: the work is waiting on the API; each tenant keeps its own client and budget). Not
tenant partitions (1,000 runs every 5 minutes, and "what is late anywhere" spread over 1,000
partitions) nor a fan-out (1,000 steps per run, each with a step's overhead): one run, one
page, every tenant polled within the schedule's interval.

The shipped assets record their checks' verdicts in their metadata, and ``defs/check_runs.py``
reports them in a short run of their own (a check inside the poll's run reads "In progress"
for the whole poll). A suffixed instance (``build_overview_assets``) reports them inline.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at decoration time.

from collections import Counter
from functools import partial
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
)

from amperity_ops.client import AmperityClient, IngestJob
from amperity_ops.core.clock import clock_label, clock_mark
from amperity_ops.defs.checks import (
    CHECK_RESULTS_KEY,
    INGEST_JOBS_KEY,
    WORKFLOW_RUNS_KEY,
    check_results_metadata,
    ingest_check_results,
    ingest_check_specs,
    runs_check_results,
    runs_check_specs,
)
from amperity_ops.defs.instance_names import overview_key, resource_key_for
from amperity_ops.defs.metadata import (
    ingest_metadata,
    md_table,
    runs_metadata,
    silences_metadata,
)
from amperity_ops.services import inventory
from amperity_ops.services.poll import poll_ingest_jobs, poll_workflow_runs
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.summary import summarize_ingest, summarize_runs
from amperity_ops.services.tenant_pool import for_each_tenant_at_once
from amperity_ops.services.tenants import for_each_tenant
from amperity_ops.settings import TenantConfig

__all__ = [
    "AUDIT_EVENTS_KEY",
    "CAMPAIGNS_KEY",
    "INVENTORY_ASSETS",
    "POLLING_ASSETS",
    "SEGMENTS_KEY",
    "audit_events",
    "build_overview_assets",
    "campaigns",
    "ingest_jobs",
    "segments",
    "workflow_runs",
]

GROUP = "amperity"
OWNERS = ["team:data-platform"]
KINDS = {"amperity"}
SEGMENTS_KEY = AssetKey(["amperity", "segments"])
CAMPAIGNS_KEY = AssetKey(["amperity", "campaigns"])
AUDIT_EVENTS_KEY = AssetKey(["amperity", "audit_events"])
amperity_asset = partial(asset, group_name=GROUP, owners=OWNERS, kinds=KINDS)
"""``@asset`` in the amperity group, with its owners and kind."""


_RUNS_TEXT = (
    "Amperity workflow runs of every tenant, polled incrementally into the history store "
    "(new runs since the last poll plus the ones still active; never the whole history). "
    "Metadata: a one-line `attention` naming breached and warning runs; active runs "
    "with runtime against their SLA (and a link when the tenant has app_url); the stops "
    "amperity-ops requested in the window (who, why, result); counts by state, failures "
    "with attribution, runtime percentiles per workflow."
)
_INGEST_TEXT = (
    "Amperity ingest jobs and their feeds (rows read, errors, rejects), polled "
    "incrementally into the history store. Checks: error and reject rates against "
    "ingest_thresholds, failed feeds."
)
_SEGMENTS_TEXT = "Inventory of Amperity segments per tenant, counted by status (one listing)."
_CAMPAIGNS_TEXT = (
    "Inventory of Amperity campaigns and campaign drafts (the drafts endpoint "
    "exists only under api-version unstable) per tenant, with upcoming deliveries."
)
_AUDIT_TEXT = (
    "Amperity audit events since the previous materialization (at most one day "
    "back), counted by event type, per tenant."
)


@amperity_asset(key=WORKFLOW_RUNS_KEY, description=_RUNS_TEXT)
def workflow_runs(
    context: AssetExecutionContext, amperity_ops: ResourceParam[OpsRuntime]
) -> MaterializeResult:
    """Poll every tenant's workflow runs and summarise them."""
    return poll_workflow_runs_asset(context, amperity_ops, WORKFLOW_RUNS_KEY)


def poll_workflow_runs_asset(
    context: AssetExecutionContext, runtime: OpsRuntime, key: AssetKey, *,
    inline_checks: bool = False,
) -> MaterializeResult:
    """``amperity/workflow_runs`` (or an instance's own ``key``): poll and summarise."""
    now = runtime.clock()
    reports, errors = for_each_tenant_at_once(
        runtime.tenants,
        lambda tenant, client: poll_workflow_runs(
            client, runtime.store, tenant=tenant.name, now=now
        ),
        runtime.client_factory,
        concurrency=runtime.config.sensor.concurrency,
    )
    mark = clock_mark(runtime.clock)
    polled = {name: report.summary(mark) for name, report in reports.items()}
    for line in (f"{n}: {p}" for n, p in polled.items()):
        context.log.info(line)
    summary = summarize_runs(runtime.store, runtime.config, runtime.tenants, now=now)
    checks = runs_check_results(summary, errors=errors, key=key)
    metadata = {**runs_metadata(summary, polled=polled, errors=errors,
                                clock=clock_label(runtime.clock, now), time_mark=mark,
                                odd={n: r.odd for n, r in reports.items() if r.odd}),
                # Who silenced what and why: only while a silence holds.
                **silences_metadata(runtime.store.active_silences(now), now, mark)}
    if inline_checks:
        return MaterializeResult(metadata=metadata, check_results=checks)
    # The verdicts, reported by `defs/check_runs.py` in a run of their own (see there why).
    return MaterializeResult(metadata={**metadata,
                                       CHECK_RESULTS_KEY: check_results_metadata(checks)})


@amperity_asset(key=INGEST_JOBS_KEY, description=_INGEST_TEXT)
def ingest_jobs(
    context: AssetExecutionContext, amperity_ops: ResourceParam[OpsRuntime]
) -> MaterializeResult:
    """Poll every tenant's ingest jobs and evaluate their feeds."""
    return poll_ingest_jobs_asset(context, amperity_ops, INGEST_JOBS_KEY)


def poll_ingest_jobs_asset(
    context: AssetExecutionContext, runtime: OpsRuntime, key: AssetKey, *,
    inline_checks: bool = False,
) -> MaterializeResult:
    """``amperity/ingest_jobs`` (or an instance's own ``key``): poll and evaluate the feeds."""
    now = runtime.clock()

    def poll(tenant: TenantConfig, client: AmperityClient) -> list[IngestJob]:
        return poll_ingest_jobs(client, runtime.store, tenant=tenant.name, now=now).jobs

    jobs, errors = for_each_tenant_at_once(
        runtime.tenants, poll, runtime.client_factory,
        concurrency=runtime.config.sensor.concurrency,
    )
    polled = {name: f"{len(found)} jobs read" for name, found in jobs.items()}
    summary = summarize_ingest(jobs, runtime.config, now=now)
    context.log.info(
        "%d jobs, %d feeds, %d unhealthy", summary.jobs, len(summary.feeds), len(summary.unhealthy)
    )
    checks = ingest_check_results(summary, runtime.config.ingest_thresholds, errors=errors,
                                  key=key)
    metadata = ingest_metadata(summary, polled=polled, errors=errors,
                               clock=clock_label(runtime.clock, now))
    if inline_checks:
        return MaterializeResult(metadata=metadata, check_results=checks)
    return MaterializeResult(metadata={**metadata,
                                       CHECK_RESULTS_KEY: check_results_metadata(checks)})


def _errors_md(errors: dict[str, str]) -> dict[str, Any]:
    if not errors:
        return {}
    return {
        "unreachable": MetadataValue.md("\n".join(f"- **{t}**: {m}" for t, m in errors.items()))
    }


@amperity_asset(key=SEGMENTS_KEY, description=_SEGMENTS_TEXT)
def segments(amperity_ops: ResourceParam[OpsRuntime]) -> MaterializeResult:
    """List every tenant's segments."""
    return list_segments_asset(amperity_ops)


def list_segments_asset(runtime: OpsRuntime) -> MaterializeResult:
    """``amperity/segments``: every tenant's segments by status."""
    found, errors = for_each_tenant(
        runtime.tenants, lambda _t, client: inventory.list_segments(client), runtime.client_factory
    )
    by_status: Counter[str] = Counter()
    rows = []
    for tenant, items in found.items():
        by_status.update(s.status for s in items)
        rows += [[tenant, s.id, s.name, s.status] for s in items]
    return MaterializeResult(
        metadata={
            "segments": MetadataValue.int(sum(len(v) for v in found.values())),
            "by_status": MetadataValue.md(
                md_table(["status", "segments"], sorted(by_status.items()), empty="no segments")
            ),
            "table": MetadataValue.md(
                md_table(["tenant", "id", "name", "status"], rows, empty="no segments")
            ),
            **_errors_md(errors),
        }
    )


@amperity_asset(key=CAMPAIGNS_KEY, description=_CAMPAIGNS_TEXT)
def campaigns(amperity_ops: ResourceParam[OpsRuntime]) -> MaterializeResult:
    """List every tenant's campaigns and drafts."""
    return list_campaigns_asset(amperity_ops)


def list_campaigns_asset(runtime: OpsRuntime) -> MaterializeResult:
    """``amperity/campaigns``: every tenant's campaigns, drafts and upcoming deliveries."""
    now = runtime.clock()
    found, errors = for_each_tenant(
        runtime.tenants,
        lambda _t, client: inventory.list_campaigns(client),
        runtime.client_factory,
    )
    rows = []
    total = drafts = upcoming = 0
    for tenant, inv in found.items():
        total += len(inv.campaigns)
        drafts += len(inv.drafts)
        for c in inv.campaigns:
            soon = c.deliver_at is not None and c.deliver_at >= now
            upcoming += soon
            rows.append(
                [
                    tenant,
                    c.id,
                    c.name,
                    "campaign",
                    f"{c.deliver_at:%Y-%m-%d %H:%M}" if c.deliver_at else "-",
                ]
            )
        rows += [
            [
                tenant,
                d.id,
                d.name,
                "draft",
                f"{d.deliver_at:%Y-%m-%d %H:%M}" if d.deliver_at else "-",
            ]
            for d in inv.drafts
        ]
    notes = {t: inv.drafts_note for t, inv in found.items() if inv.drafts_note}
    return MaterializeResult(
        metadata={
            "campaigns": MetadataValue.int(total),
            "drafts": MetadataValue.int(drafts),
            "upcoming_deliveries": MetadataValue.int(upcoming),
            "table": MetadataValue.md(
                md_table(["tenant", "id", "name", "kind",
                          f"deliver at{clock_mark(runtime.clock)}"], rows, empty="no campaigns")
            ),
            **(
                {
                    "drafts_note": MetadataValue.md(
                        "\n".join(f"- {t}: {n}" for t, n in notes.items())
                    )
                }
                if notes
                else {}
            ),
            **_errors_md(errors),
        }
    )


@amperity_asset(key=AUDIT_EVENTS_KEY, description=_AUDIT_TEXT)
def audit_events(
    context: AssetExecutionContext, amperity_ops: ResourceParam[OpsRuntime]
) -> MaterializeResult:
    """Read every tenant's audit events since the last materialization."""
    return read_audit_events_asset(context, amperity_ops, AUDIT_EVENTS_KEY)


def read_audit_events_asset(
    context: AssetExecutionContext, runtime: OpsRuntime, key: AssetKey
) -> MaterializeResult:
    """``amperity/audit_events`` (or an instance's ``key``): events since the last window."""
    now = runtime.clock()
    since = inventory.audit_window_start(_previous_window_end(context, key), now=now)
    found, errors = for_each_tenant(
        runtime.tenants,
        lambda _t, client: inventory.list_audit_events(client, since=since, until=now),
        runtime.client_factory,
    )
    by_type: Counter[str] = Counter()
    rows = []
    for tenant, events in found.items():
        by_type.update(e.event_type for e in events)
        rows += [
            [
                tenant,
                f"{e.happened_at:%Y-%m-%d %H:%M:%S}",
                e.event_type,
                e.principal_name or e.principal_email or e.principal_id or "-",
                e.object_name or e.object_id or "-",
            ]
            for e in events
        ]
    rows.sort(key=lambda r: r[1], reverse=True)
    label = clock_label(runtime.clock, now)
    return MaterializeResult(
        metadata={
            "events": MetadataValue.int(len(rows)),
            # window_* stay plain ISO times (the next materialization reads window_end back);
            # on the demo's simulator clock the clock entry says whose times they are.
            **({"clock": MetadataValue.text(label)} if label else {}),
            "window_start": MetadataValue.text(since.isoformat()),
            "window_end": MetadataValue.text(now.isoformat()),
            "by_type": MetadataValue.md(
                md_table(["event type", "events"], by_type.most_common(), empty="no events")
            ),
            "latest": MetadataValue.md(
                md_table(["tenant", f"at{clock_mark(runtime.clock)}", "type", "who", "object"],
                         rows, empty="no events")
            ),
            **_errors_md(errors),
        }
    )


def _previous_window_end(context: AssetExecutionContext, key: AssetKey) -> str | None:
    """``window_end`` of the previous materialization, so audit windows neither gap nor overlap."""
    event = context.instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get("window_end")
    return str(value.value) if value is not None else None


POLLING_ASSETS = [workflow_runs, ingest_jobs]
INVENTORY_ASSETS = [segments, campaigns, audit_events]


def build_overview_assets(
    name_suffix: str = "",
) -> tuple[list[AssetsDefinition], list[AssetsDefinition]]:
    """The polled and the inventory assets of one instance: ``(polling, inventory)``.

    Without a suffix: the module's assets (``amperity/workflow_runs`` ..., resource
    ``amperity_ops``). With one: the same assets under ``amperity/<suffix>/...``, their ops and
    checks named after those keys, reading the instance's own resource (``amperity_ops<suffix>``),
    so two instances never share a key, an op or a tenant list.
    """
    if not name_suffix:
        return list(POLLING_ASSETS), list(INVENTORY_ASSETS)
    rk = resource_key_for(name_suffix)

    def key(base: AssetKey) -> AssetKey:
        return overview_key(base, name_suffix)

    def text(body: str) -> str:
        return f"{body} Instance `{name_suffix}` (resource `{rk}`)."

    def runtime_of(context: AssetExecutionContext) -> OpsRuntime:
        return getattr(context.resources, rk)

    runs_key, ingest_key = key(WORKFLOW_RUNS_KEY), key(INGEST_JOBS_KEY)

    @amperity_asset(key=runs_key, check_specs=runs_check_specs(runs_key),
                    required_resource_keys={rk}, description=text(_RUNS_TEXT))
    def runs(context: AssetExecutionContext) -> MaterializeResult:
        return poll_workflow_runs_asset(context, runtime_of(context), context.asset_key,
                                        inline_checks=True)

    @amperity_asset(key=ingest_key, check_specs=ingest_check_specs(ingest_key),
                    required_resource_keys={rk}, description=text(_INGEST_TEXT))
    def ingest(context: AssetExecutionContext) -> MaterializeResult:
        return poll_ingest_jobs_asset(context, runtime_of(context), context.asset_key,
                                      inline_checks=True)

    @amperity_asset(key=key(SEGMENTS_KEY), required_resource_keys={rk},
                    description=text(_SEGMENTS_TEXT))
    def segs(context: AssetExecutionContext) -> MaterializeResult:
        return list_segments_asset(runtime_of(context))

    @amperity_asset(key=key(CAMPAIGNS_KEY), required_resource_keys={rk},
                    description=text(_CAMPAIGNS_TEXT))
    def camps(context: AssetExecutionContext) -> MaterializeResult:
        return list_campaigns_asset(runtime_of(context))

    @amperity_asset(key=key(AUDIT_EVENTS_KEY), required_resource_keys={rk},
                    description=text(_AUDIT_TEXT))
    def audit(context: AssetExecutionContext) -> MaterializeResult:
        return read_audit_events_asset(context, runtime_of(context), context.asset_key)

    return [runs, ingest], [segs, camps, audit]
