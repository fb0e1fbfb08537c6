"""What one SLA tick read and did, and how it is told: the sensor's SkipReason and its log.

Plain data filled by ``services/sla_guard.py`` from what it read and the plans it applied;
the wording lives here so the service only fetches, plans and applies.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from amperity_ops.monitoring.tick import TickPlan, bounded

__all__ = [
    "DeliveryReport",
    "SlaTickResult",
    "StopToRequest",
    "TenantTick",
    "cut_short_note",
]


_LEVEL_ORDER = ("breached", "failed", "warning", "resolved")


class DeliveryReport(Protocol):
    """What the tick report reads of an outbox delivery pass (``services.delivery``)."""

    @property
    def delivered(self) -> int: ...

    @property
    def failed(self) -> int: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class StopToRequest:
    """A stop the sensor must request from Dagster (already recorded in the stop ledger)."""

    tenant: str
    workflow_id: str
    workflow_name: str
    run_key: str
    reason: str
    """``SLA policy <name>: runtime X over max Y`` (shown on the stop run and in the ledger)."""


@dataclass
class TenantTick:
    """What one tenant's part of the tick read and did."""

    tenant: str
    active: int = 0
    levels: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    """API requests sent for this tenant: every page and read, retries and failures included
    (the client's count when the service has it)."""
    alerts: int = 0
    alert_levels: Counter[str] = field(default_factory=Counter)
    """Alerts queued this tick, by level (``breached``, ``warning``, ``resolved``)."""
    plan_summary: str = ""
    plan_headline: str = ""
    run_lines: list[str] = field(default_factory=list)
    """The runs alerted on this tick, one line each (see ``TickPlan.run_lines``)."""
    notes: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    """Alerted runs that answered 404 this tick (marked vanished in the store)."""
    cut_short: str | None = None
    """Set when the time budget ran out inside this tenant: what was left undone."""

    def take_plan(self, plan: TickPlan) -> None:
        """Copy what the tenant's plan decided into the report."""
        self.active = len(plan.evaluations)
        self.levels.update(e.level.value for e in plan.evaluations)
        self.alerts = len(plan.alerts)
        self.alert_levels.update(a.level.value for a in plan.alerts)
        self.plan_summary = plan.summary
        self.notes = list(plan.notes)
        self.run_lines = plan.run_lines
        self.plan_headline = plan.headline


def cut_short_note(
    *, listing_complete: bool, running_read: int, skipped_rereads: int
) -> str | None:
    """What the time budget left undone inside one tenant (None: nothing)."""
    if not listing_complete:
        return (
            f"time budget spent while listing ({running_read} running run(s) read); "
            "the rest evaluated as last stored, resolutions wait for the next tick"
        )
    if skipped_rereads:
        return (
            f"time budget spent: {skipped_rereads} alerted run(s) not re-read "
            "(evaluated as last stored; re-read first next tick)"
        )
    return None


@dataclass
class SlaTickResult:
    """The outcome of one SLA tick over every tenant (or as many as the budget allowed)."""

    started_at: datetime
    tenants: list[TenantTick] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    stop_requests: list[StopToRequest] = field(default_factory=list)
    dry_runs: list[str] = field(default_factory=list)
    """One line per stop that dry-run mode held back ("would have stopped ...")."""
    delivery: DeliveryReport | None = None
    resume_tenant: str | None = None
    """Set when the time budget ran out: the tenant the next tick starts with."""
    elapsed_s: float = 0.0
    digest: str | None = None
    """The daily digest's title when this tick queued it."""
    failed_tenant_requests: int = 0
    """API requests sent for tenants that failed mid-tick (in ``errors``): they count too."""
    store_s: float = 0.0
    """Seconds spent on the store after the reads (runs, plans' tracks, outbox, ledger)."""

    @property
    def requests(self) -> int:
        """API requests sent by this tick (all tenants, those that failed included)."""
        return sum(t.requests for t in self.tenants) + self.failed_tenant_requests

    def alert_counts(self) -> Counter[str]:
        """Alerts queued by this tick over every tenant, by level."""
        total: Counter[str] = Counter()
        for tenant in self.tenants:
            total.update(tenant.alert_levels)
        return total

    def headline(self) -> str | None:
        """``ALERTED: 1 breached, 2 warning`` when the tick queued alerts, else None.

        What the sensor's tick shows first, so a tick that alerted never reads like an idle
        one in the UI (most severe level first).
        """
        counts = self.alert_counts()
        if not counts:
            return None
        order = [lvl for lvl in _LEVEL_ORDER if counts[lvl]] + sorted(
            lvl for lvl in counts if lvl not in _LEVEL_ORDER)
        return "ALERTED: " + ", ".join(f"{counts[lvl]} {lvl}" for lvl in order)

    def log_records(self) -> list[tuple[int, str]]:
        """:meth:`log_lines` with a logging level each: WARNING for breaches, unreachable
        tenants and a cut-short tick, so a BREACHED stands out of the sensor's INFO lines."""
        loud = ("BREACHED", "breached", "FAILED", "not reachable", "time budget spent", "vanished")
        return [(logging.WARNING if any(word in line for word in loud) else logging.INFO, line)
                for line in self.log_lines()]

    def summary(self) -> str:
        """One paragraph saying what the tick looked at and did (the sensor's SkipReason)."""
        parts = [t.plan_summary for t in self.tenants]
        parts += [f"{t.tenant}: {t.cut_short}" for t in self.tenants if t.cut_short]
        parts += [f"{name}: not reachable ({err})" for name, err in self.errors.items()]
        if self.dry_runs:
            parts.append("DRY RUN: " + "; ".join(bounded(self.dry_runs)))
        if self.delivery is not None and (self.delivery.delivered or self.delivery.failed):
            parts.append(self.delivery.describe())
        if self.resume_tenant:
            parts.append(f"time budget spent: resuming with tenant {self.resume_tenant} next tick")
        if self.digest:
            parts.append(f"daily digest queued: {self.digest}")
        parts.append(f"{self.requests} API request(s) in {self.elapsed_s:.2f}s")
        return " | ".join(p for p in parts if p)

    def log_lines(self) -> list[str]:
        """Lines for the sensor's log: one per tenant, dry runs, held stops, delivery."""
        lines: list[str] = []
        for t in self.tenants:
            lines.append(f"{t.plan_headline or t.plan_summary} [{t.requests} requests]")
            lines += [f"{t.tenant}: {line}" for line in bounded(t.run_lines)]
        lines += [f"{t.tenant}: {t.cut_short}" for t in self.tenants if t.cut_short]
        lines += [f"{t.tenant}: vanished (404): {', '.join(t.vanished)}"
                  for t in self.tenants if t.vanished]
        lines += [f"{name}: not reachable: {err}" for name, err in self.errors.items()]
        lines += [f"dry run: {line}" for line in bounded(self.dry_runs)]
        lines += bounded([f"stop requested: {s.run_key}: {s.reason}" for s in self.stop_requests])
        if self.delivery is not None:
            lines.append(self.delivery.describe())
        return lines
