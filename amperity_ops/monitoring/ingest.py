"""Ingest health: failed feeds and error / reject rates over the thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from amperity_ops.client.models import IngestJob, StateKind
from amperity_ops.core.alerts import AlertLevel, AlertMessage, dedup_key

if TYPE_CHECKING:
    from amperity_ops.settings import IngestThresholds

__all__ = [
    "IngestHealth",
    "IngestProblem",
    "evaluate_ingest_job",
    "ingest_alert_message",
    "rate_over_threshold",
]


def rate_over_threshold(value: float, threshold: float) -> str:
    """``1.04% > 1.00%``: a rate and its threshold, precise enough to tell them apart.

    Two decimals of a percent by default; more when both would round alike (``1.004%`` over
    ``1.000%``), so an alert never reads "1.0% (threshold 1.0%)".
    """
    shown, limit = _rate_pair(value, threshold)
    return f"{shown} > {limit}"


def _rate_pair(value: float, threshold: float) -> tuple[str, str]:
    for digits in range(2, 7):
        shown, limit = f"{value:.{digits}%}", f"{threshold:.{digits}%}"
        if shown != limit:
            break
    return shown, limit


@dataclass(frozen=True)
class IngestProblem:
    """One thing wrong with one feed."""

    feed_id: str
    table_name: str
    kind: Literal["failed", "error_rate", "reject_rate"]
    value: float
    """1.0 for a failed feed; else the rate (errors or rejected over rows read)."""
    threshold: float
    rows_read: int = 0
    """This feed's own rows read (the job's totals are on :class:`IngestHealth`)."""
    rows_counted: int = 0
    """This feed's errors (``error_rate``) or rejected rows (``reject_rate``)."""

    def describe(self) -> str:
        """A short sentence, e.g. ``orders: 3.00% rejected > 1.00% (30 of 1,000 rows)``."""
        if self.kind == "failed":
            return f"{self.table_name}: feed failed"
        noun = "errors" if self.kind == "error_rate" else "rejected"
        shown, limit = _rate_pair(self.value, self.threshold)
        return (f"{self.table_name}: {shown} {noun} > {limit} "
                f"({self.rows_counted:,} of {self.rows_read:,} rows)")


@dataclass(frozen=True)
class IngestHealth:
    """An ingest job's verdict."""

    job: IngestJob
    problems: tuple[IngestProblem, ...]
    rows_read: int
    rows_errored: int
    rows_rejected: int

    @property
    def ok(self) -> bool:
        """True when no feed failed and every rate is within its threshold."""
        return not self.problems


def _rate(part: int, whole: int) -> float:
    return part / whole if whole > 0 else 0.0


def evaluate_ingest_job(job: IngestJob, thresholds: IngestThresholds) -> IngestHealth:
    """Check each feed of an ingest job against the thresholds.

    A rate is over its threshold when strictly greater (a threshold of 0 flags any error).
    Feeds in an unknown state are not called failed: only Amperity's ``failed`` is.

    Args:
        job: The job with its feeds (``tables``).
        thresholds: ``max_error_rate``, ``max_reject_rate``, ``alert_on_failed_feed``.

    Returns:
        The problems found, and the job's totals.
    """
    problems: list[IngestProblem] = []
    for feed in job.tables:
        if thresholds.alert_on_failed_feed and feed.state.kind is StateKind.FAILED:
            problems.append(IngestProblem(feed.feed_id, feed.table_name, "failed", 1.0, 0.0))
        error_rate = _rate(feed.errors, feed.read)
        if error_rate > thresholds.max_error_rate:
            problems.append(IngestProblem(feed.feed_id, feed.table_name, "error_rate",
                                          error_rate, thresholds.max_error_rate,
                                          feed.read, feed.errors))
        reject_rate = _rate(feed.rejected, feed.read)
        if reject_rate > thresholds.max_reject_rate:
            problems.append(IngestProblem(feed.feed_id, feed.table_name, "reject_rate",
                                          reject_rate, thresholds.max_reject_rate,
                                          feed.read, feed.rejected))
    return IngestHealth(
        job=job,
        problems=tuple(problems),
        rows_read=sum(f.read for f in job.tables),
        rows_errored=sum(f.errors for f in job.tables),
        rows_rejected=sum(f.rejected for f in job.tables),
    )


MAX_FEED_FACTS = 5
"""An alert lists at most this many offending feeds' own numbers (the title says how many)."""


def _feed_facts(health: IngestHealth) -> list[tuple[str, str]]:
    """One fact per offending feed: its own rows read, errors and rejects, with rates."""
    offending = {p.feed_id for p in health.problems}
    facts: list[tuple[str, str]] = []
    for feed in health.job.tables:
        if feed.feed_id not in offending:
            continue
        facts.append((
            f"Feed {feed.table_name}",
            f"{feed.state.raw}; {feed.read:,} rows read, {feed.errors:,} errors "
            f"({_rate(feed.errors, feed.read):.2%}), {feed.rejected:,} rejected "
            f"({_rate(feed.rejected, feed.read):.2%})",
        ))
    if len(facts) > MAX_FEED_FACTS:
        more = len(facts) - MAX_FEED_FACTS
        facts = [*facts[:MAX_FEED_FACTS], ("More feeds", f"+{more} more over a threshold")]
    return facts


def ingest_alert_message(
    tenant: str, health: IngestHealth, *, now: datetime, link: str | None = None
) -> AlertMessage:
    """The one alert about an unhealthy ingest job (dedup key ``…:ingest:<job id>``).

    Args:
        tenant: The tenant's name.
        health: From :func:`evaluate_ingest_job`, with at least one problem.
        now: When the alert is raised.
        link: The job's workflow in the Amperity app, if known.
    """
    job = health.job
    title = f"INGEST: {job.id} has {len(health.problems)} problem(s): " + "; ".join(
        p.describe() for p in health.problems[:3]
    )
    # The title names feeds; the totals below are the whole job's, and say so, so a feed at
    # 1.30% next to "Errors 0.26%" does not read as a contradiction.
    facts = (
        ("Tenant", tenant),
        ("Ingest job", job.id),
        ("Workflow", job.workflow_id or "-"),
        *_feed_facts(health),
        ("Rows read (all feeds)", f"{health.rows_read:,}"),
        ("Errors (all feeds)",
         f"{health.rows_errored:,} ({_rate(health.rows_errored, health.rows_read):.2%})"),
        ("Rejected (all feeds)",
         f"{health.rows_rejected:,} ({_rate(health.rows_rejected, health.rows_read):.2%})"),
    )
    lines = [title, *(p.describe() for p in health.problems), *(f"{a}: {b}" for a, b in facts)]
    if link:
        lines.append(f"Open in Amperity: {link}")
    return AlertMessage(
        tenant=tenant,
        workflow_id=job.id,
        workflow_name=f"ingest {job.id}",
        level=AlertLevel.INGEST,
        title=title,
        text="\n".join(lines),
        dedup_key=dedup_key(tenant, f"ingest:{job.id}"),
        raised_at=now,
        link=link,
        facts=facts,
        kind="ingest",
    )
