"""What a person needs to read at 3 a.m., computed from the history store (no API call).

The polling assets turn these summaries into Dagster metadata; the CLI can print them. All SLA
judgements come from ``amperity_ops.monitoring`` (explicit policy > Amperity ``warn_after_ms``
> learned baseline); this module only gathers the rows.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from amperity_ops.client import IngestJob, StateKind
from amperity_ops.core import Requester, StopResult
from amperity_ops.monitoring.ingest import evaluate_ingest_job
from amperity_ops.monitoring.sla import evaluate_sla, resolve_sla
from amperity_ops.monitoring.stats import percentile

if TYPE_CHECKING:
    from amperity_ops.settings import OpsConfig, TenantConfig
    from amperity_ops.store import Store

__all__ = [
    "ActiveRunRow",
    "FailureRow",
    "IngestSummary",
    "RunsSummary",
    "StopRow",
    "WorkflowDurations",
    "summarize_ingest",
    "summarize_runs",
]

SUMMARY_WINDOW = timedelta(hours=24)
"""Counts by state, failures and stops cover runs that started or ended in this window."""
MAX_STOP_ROWS = 200
"""The stop ledger is read at most this far (newest first): a table, not an archive."""
NOTHING_TO_STOP_RESULTS = frozenset({StopResult.NOT_RUNNING, StopResult.NOT_FOUND})
"""Stop results (``StopResult`` values) of requests that found nothing to stop."""


@dataclass(frozen=True)
class ActiveRunRow:
    """One active run with its runtime against its SLA."""

    tenant: str
    workflow_id: str
    name: str
    type: str
    state: str
    started_at: datetime
    runtime: timedelta
    level: str
    """``ok``, ``warning`` or ``breached``."""
    sla_source: str | None
    """Which rule applies: a policy name, ``amperity warn_after``, ``baseline``, or None."""
    warn_after: timedelta | None
    max_runtime: timedelta | None
    link: str | None
    action: str | None = None
    """The rule's action (``alert`` or ``stop``), None without a rule."""


@dataclass(frozen=True)
class StopRow:
    """One stop-ledger row in the window: a stop amperity-ops requested, or a dry-run note."""

    tenant: str
    workflow_id: str
    name: str
    requested_by: str
    reason: str
    dry_run: bool
    requested_at: datetime
    result: StopResult | None
    """``stopped``, ``not_running``, ``vanished``, ... ; None while the stop is in flight."""
    state_before: str | None
    state_after: str | None
    finished_at: datetime | None
    link: str | None
    requester: Requester | None = None
    """Who asked, typed; None: read from ``requested_by``."""

    @property
    def asked_by(self) -> Requester:
        """Who asked, typed (from ``requested_by`` when the row did not say)."""
        return self.requester or Requester.from_text(self.requested_by)


@dataclass(frozen=True)
class FailureRow:
    """One failed run with Amperity's attribution of the failure."""

    tenant: str
    workflow_id: str
    name: str
    ended_at: datetime | None
    error_type: str | None
    attribution: str | None
    message: str | None
    link: str | None


@dataclass(frozen=True)
class WorkflowDurations:
    """Runtime percentiles of one workflow's successful runs in the history store."""

    tenant: str
    name: str
    samples: int
    p50: timedelta
    p95: timedelta
    max: timedelta


@dataclass
class RunsSummary:
    """Everything the ``amperity/workflow_runs`` materialization shows."""

    generated_at: datetime
    window: timedelta
    counts_by_state: Counter[str] = field(default_factory=Counter)
    active: list[ActiveRunRow] = field(default_factory=list)
    failures: list[FailureRow] = field(default_factory=list)
    durations: list[WorkflowDurations] = field(default_factory=list)
    stops: list[StopRow] = field(default_factory=list)
    """Stop-ledger rows requested in the window, newest first (real stops and dry-run notes)."""
    tenants: list[str] = field(default_factory=list)
    """The tenants summarised (tables drop their tenant column when there is only one)."""

    @property
    def real_stops(self) -> list[StopRow]:
        """Stops amperity-ops actually requested in the window, newest first.

        Requests that found nothing to stop (the run had already ended, or no such run) are
        left out: they sent no stop, and listing them under "the stops amperity-ops requested"
        would read as if they had. The stop ledger keeps them.
        """
        return [row for row in self.stops
                if not row.dry_run and row.result not in NOTHING_TO_STOP_RESULTS]

    @property
    def dry_run_notes(self) -> list[StopRow]:
        """Stops dry-run mode held back ("would have stopped"), newest first."""
        return [row for row in self.stops if row.dry_run]

    @property
    def breached(self) -> list[ActiveRunRow]:
        """Active runs over their maximum runtime."""
        return [row for row in self.active if row.level == "breached"]

    @property
    def warning(self) -> list[ActiveRunRow]:
        """Active runs over their warning line, not yet breached."""
        return [row for row in self.active if row.level == "warning"]

    @property
    def p95_runtime(self) -> timedelta | None:
        """The p95 runtime across every workflow's p95 (the worst workflow), or None."""
        return max((d.p95 for d in self.durations), default=None)


def summarize_runs(
    store: Store,
    config: OpsConfig,
    tenants: Sequence[TenantConfig],
    *,
    now: datetime,
    window: timedelta = SUMMARY_WINDOW,
) -> RunsSummary:
    """Summarise active runs, recent failures and runtime percentiles from the store.

    Args:
        store: The history store (read only).
        config: The policy file (SLA policies, baseline settings).
        tenants: The tenants to include.
        now: The current time.
        window: How far back counts by state and failures reach.

    Returns:
        The summary.
    """
    summary = RunsSummary(generated_at=now, window=window, tenants=[t.name for t in tenants])
    by_name = {t.name: t for t in tenants}
    for record in store.stop_records_since(now - window, tenants=by_name, limit=MAX_STOP_ROWS):
        summary.stops.append(
            StopRow(
                tenant=record.tenant,
                workflow_id=record.workflow_id,
                name=record.workflow_name,
                requested_by=record.requested_by,
                reason=record.reason,
                dry_run=record.dry_run,
                requested_at=record.requested_at,
                result=record.result,
                state_before=record.state_before,
                state_after=record.state_after,
                finished_at=record.finished_at,
                link=by_name[record.tenant].run_link(record.workflow_id),
                requester=record.requester,
            )
        )
    for tenant in tenants:
        # One read: runs_since already holds every active run (as active_runs would, minus
        # the vanished ones, which both leave out), so the active ones are filtered from it.
        recent = store.runs_since(tenant.name, now - window)
        active = [run for run in recent if not run.state.is_terminal]
        summary.counts_by_state.update(run.state.kind.value for run in recent)
        names = sorted({run.name for run in recent} | {run.name for run in active})
        baselines = store.successful_runtimes(tenant.name, names, limit=config.baseline.window)
        for run in active:  # oldest first, as stored
            if run.created_at is None:  # the store keeps no run whose start is unknown
                continue
            rule = resolve_sla(run, config, baselines.get(run.name, ()))
            evaluation = evaluate_sla(run, rule, now)
            summary.active.append(
                ActiveRunRow(
                    tenant=tenant.name,
                    workflow_id=run.id,
                    name=run.name,
                    type=run.type,
                    state=run.state.raw,
                    started_at=run.created_at,
                    runtime=run.runtime(now) or timedelta(0),
                    level=evaluation.level.value,
                    sla_source=rule.label if rule else None,
                    warn_after=rule.warn_after if rule else None,
                    max_runtime=rule.max_runtime if rule else None,
                    link=tenant.run_link(run.id),
                    action=rule.action if rule else None,
                )
            )
        for run in recent:
            if run.state.kind is not StateKind.FAILED:
                continue
            summary.failures.append(
                FailureRow(
                    tenant=tenant.name,
                    workflow_id=run.id,
                    name=run.name,
                    ended_at=run.ended_at,
                    error_type=run.error.type if run.error else None,
                    attribution=run.error.attribution if run.error else None,
                    message=run.error.message if run.error else None,
                    link=tenant.run_link(run.id),
                )
            )
        # Newest failure first: the one that just paged someone belongs at the top.
        summary.failures.sort(key=lambda f: f.ended_at or now, reverse=True)
        for name, runtimes in sorted(baselines.items()):
            if not runtimes:
                continue
            summary.durations.append(
                WorkflowDurations(
                    tenant=tenant.name,
                    name=name,
                    samples=len(runtimes),
                    p50=timedelta(seconds=percentile(runtimes, 50) or 0.0),
                    p95=timedelta(seconds=percentile(runtimes, 95) or 0.0),
                    max=timedelta(seconds=max(runtimes)),
                )
            )
    return summary


def _no_link(_: str) -> str | None:
    return None


@dataclass(frozen=True)
class FeedRow:
    """One ingest feed with its error and reject rates."""

    tenant: str
    job_id: str
    workflow_id: str | None
    table: str
    state: str
    read: int
    errors: int
    rejected: int
    error_rate: float
    reject_rate: float
    problems: tuple[str, ...]
    link: str | None = None
    """The job's workflow run in the Amperity app (the tenant's ``app_url``), if known."""


@dataclass
class IngestSummary:
    """Everything the ``amperity/ingest_jobs`` materialization shows."""

    generated_at: datetime
    jobs: int = 0
    feeds: list[FeedRow] = field(default_factory=list)

    @property
    def unhealthy(self) -> list[FeedRow]:
        """Feeds that failed or are over a threshold."""
        return [f for f in self.feeds if f.problems]


def summarize_ingest(
    jobs_by_tenant: dict[str, list[IngestJob]], config: OpsConfig, *, now: datetime
) -> IngestSummary:
    """Evaluate each feed of the given ingest jobs against the ingest thresholds.

    Args:
        jobs_by_tenant: Tenant name -> the jobs to summarise.
        config: The policy file (``ingest_thresholds``).
        now: The current time.

    Returns:
        One row per feed, with its problems (empty when healthy).
    """
    summary = IngestSummary(generated_at=now)
    for tenant, jobs in jobs_by_tenant.items():
        summary.jobs += len(jobs)
        link_for: Callable[[str], str | None]
        try:
            link_for = config.tenant(tenant).run_link
        except KeyError:
            link_for = _no_link
        for job in jobs:
            link = link_for(job.workflow_id) if job.workflow_id else None
            health = evaluate_ingest_job(job, config.ingest_thresholds)
            problems: dict[str, list[str]] = defaultdict(list)
            for problem in health.problems:
                problems[problem.feed_id].append(problem.describe())
            for feed in job.tables:
                read = max(feed.read, 0)
                summary.feeds.append(
                    FeedRow(
                        tenant=tenant,
                        job_id=job.id,
                        workflow_id=job.workflow_id,
                        table=feed.table_name,
                        state=feed.state.raw,
                        read=feed.read,
                        errors=feed.errors,
                        rejected=feed.rejected,
                        error_rate=feed.errors / read if read else 0.0,
                        reject_rate=feed.rejected / read if read else 0.0,
                        problems=tuple(problems.get(feed.feed_id, [])),
                        link=link,
                    )
                )
    return summary
