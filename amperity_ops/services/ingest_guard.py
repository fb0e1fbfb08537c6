"""One ingest sensor tick: read recent ingest jobs, alert once per unhealthy job.

Per tenant one ``GET /ingest/jobs`` over the last ``LOOKBACK`` (a job's feeds can fail hours
after it was created, so the window slides rather than starting at a watermark). The store
remembers which jobs were alerted on, so each unhealthy job is alerted exactly once, across
ticks and restarts; the alert goes through the same outbox as SLA alerts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from amperity_ops.client import AmperityError
from amperity_ops.monitoring import evaluate_ingest_job, ingest_alert_message
from amperity_ops.services.delivery import DeliverySummary, deliver_outbox
from amperity_ops.services.oncall import enqueue_routed
from amperity_ops.services.tenants import describe_tenant_error, rotate
from amperity_ops.settings import ConfigError

if TYPE_CHECKING:
    from amperity_ops.services.runtime import OpsRuntime

__all__ = ["LOOKBACK", "IngestTickResult", "run_ingest_tick"]

log = logging.getLogger(__name__)

LOOKBACK = timedelta(hours=6)
"""How far back each tick reads ingest jobs (one request per tenant; at most 7 days)."""


@dataclass
class IngestTickResult:
    """What one ingest tick read and alerted."""

    started_at: datetime
    jobs: dict[str, int] = field(default_factory=dict)
    """Tenant -> jobs read."""
    unhealthy: dict[str, int] = field(default_factory=dict)
    """Tenant -> unhealthy jobs seen (alerted now or before)."""
    alerted: list[str] = field(default_factory=list)
    """Titles of the alerts enqueued by this tick."""
    errors: dict[str, str] = field(default_factory=dict)
    delivery: DeliverySummary | None = None
    resume_tenant: str | None = None
    elapsed_s: float = 0.0

    def summary(self) -> str:
        """What the tick looked at and did, in one paragraph (the sensor's SkipReason)."""
        parts = [
            f"{t}: {n} ingest job(s) in the last {LOOKBACK.total_seconds() / 3600:g}h, "
            f"{self.unhealthy.get(t, 0)} unhealthy"
            for t, n in self.jobs.items()
        ]
        parts += [f"{t}: not reachable ({e})" for t, e in self.errors.items()]
        parts.append(f"{len(self.alerted)} new alert(s)" if self.alerted else "no new alerts")
        if self.delivery is not None and (self.delivery.delivered or self.delivery.failed):
            parts.append(self.delivery.describe())
        if self.resume_tenant:
            parts.append(f"time budget spent: resuming with {self.resume_tenant}")
        return "; ".join(parts)

    def log_lines(self) -> list[str]:
        """Lines for the sensor's log."""
        return [f"alert: {title}" for title in self.alerted] + [self.summary()]


def run_ingest_tick(
    runtime: OpsRuntime,
    *,
    now: datetime,
    budget_s: float,
    resume_tenant: str | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> IngestTickResult:
    """Read every tenant's recent ingest jobs and alert once on each unhealthy one.

    Args:
        runtime: Config (thresholds, sinks), store and clients.
        now: The tick's time.
        budget_s: Stop starting new tenants after this many seconds.
        resume_tenant: Start with this tenant (from the cursor).
        monotonic: Elapsed-time source.

    Returns:
        What was read and alerted.
    """
    start = monotonic()
    store, config = runtime.store, runtime.config
    result = IngestTickResult(started_at=now)
    names = rotate([t.name for t in runtime.tenants], resume_tenant)
    for index, name in enumerate(names):
        if index > 0 and monotonic() - start > budget_s:
            result.resume_tenant = name
            break
        tenant = runtime.tenant(name)
        try:
            with runtime.client_factory(tenant) as client:
                jobs = list(client.list_ingest_jobs(created_from=now - LOOKBACK, created_to=now))
        except (AmperityError, ConfigError) as err:
            result.errors[name] = describe_tenant_error(tenant, err)
            continue
        result.jobs[name] = len(jobs)
        store.upsert_ingest_jobs(name, jobs, seen_at=now)
        unhealthy = [
            h for h in (evaluate_ingest_job(j, config.ingest_thresholds) for j in jobs) if not h.ok
        ]
        result.unhealthy[name] = len(unhealthy)
        already = store.ingest_alerted(name, [h.job.id for h in unhealthy])
        messages = []
        for health in unhealthy:
            if health.job.id in already:
                continue
            link = tenant.run_link(health.job.workflow_id) if health.job.workflow_id else None
            messages.append(ingest_alert_message(name, health, now=now, link=link))
        if messages:
            # Queued before being marked: a crash in between repeats nothing (the outbox is
            # once per key, level and sink) and loses nothing.
            enqueue_routed(runtime, messages, now=now)
            store.mark_ingest_alerted_many(name, [m.workflow_id for m in messages], now=now)
            result.alerted += [m.title for m in messages]
    result.delivery = deliver_outbox(
        runtime, now=now, max_seconds=max(budget_s - (monotonic() - start), 5.0)
    )
    result.elapsed_s = monotonic() - start
    return result
