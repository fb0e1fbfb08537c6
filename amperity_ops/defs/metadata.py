"""Render service summaries as Dagster metadata a person can read at 3 a.m.

Markdown tables for people, plain numbers for the UI's plots (Dagster plots every numeric
metadata value of an unpartitioned asset over time: ``active``, ``failed``, ``breached``,
``p95_runtime_minutes``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from dagster import MetadataValue

from amperity_ops.services.summary import IngestSummary, RunsSummary

__all__ = ["fmt_duration", "ingest_metadata", "md_table", "runs_metadata"]

MAX_TABLE_ROWS = 50
"""Longer tables are cut (with a note): metadata is for reading, the store keeps the rest."""


def fmt_duration(value: timedelta | None) -> str:
    """``1h 05m``, ``12m 30s``, ``45s``; ``-`` for None."""
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def _fmt_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _cell(value: Any) -> str:
    # A pipe or a newline inside a cell would break the markdown table.
    return str(value).replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str) -> str:
    """A markdown table, cut at ``MAX_TABLE_ROWS`` rows; ``empty`` when there are no rows."""
    rows = list(rows)
    if not rows:
        return f"_{empty}_"
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows[:MAX_TABLE_ROWS]]
    if len(rows) > MAX_TABLE_ROWS:
        lines.append(f"\n_... and {len(rows) - MAX_TABLE_ROWS} more_")
    return "\n".join(lines)


def _link(workflow_id: str, link: str | None) -> str:
    return f"[{workflow_id}]({link})" if link else f"`{workflow_id}`"


_LEVEL_ORDER = {"breached": 0, "warning": 1, "ok": 2}


def runs_metadata(
    summary: RunsSummary, *, polled: Mapping[str, str], errors: Mapping[str, str]
) -> dict[str, Any]:
    """Metadata of one ``amperity/workflow_runs`` materialization.

    Args:
        summary: The summary from ``summarize_runs``.
        polled: Tenant -> one line about what its poll read.
        errors: Tenant -> why its poll failed (tenants that could not be reached).

    Returns:
        Metadata values: numbers to plot first, then markdown tables.
    """
    active = sorted(summary.active, key=lambda r: (_LEVEL_ORDER.get(r.level, 3), -r.runtime))
    p95 = summary.p95_runtime
    window = fmt_duration(summary.window)
    return {
        "active": MetadataValue.int(len(summary.active)),
        "breached": MetadataValue.int(len(summary.breached)),
        "warning": MetadataValue.int(len(summary.warning)),
        "failed": MetadataValue.int(len(summary.failures)),
        "p95_runtime_minutes": MetadataValue.float(
            round(p95.total_seconds() / 60, 2) if p95 else 0.0
        ),
        "tenants_unreachable": MetadataValue.int(len(errors)),
        "active_runs": MetadataValue.md(
            md_table(
                [
                    "SLA",
                    "run",
                    "name",
                    "tenant",
                    "state",
                    "started",
                    "runtime",
                    "warn at",
                    "max",
                    "rule",
                ],
                (
                    [
                        r.level.upper() if r.level != "ok" else "ok",
                        _link(r.workflow_id, r.link),
                        r.name,
                        r.tenant,
                        r.state,
                        _fmt_time(r.started_at),
                        fmt_duration(r.runtime),
                        fmt_duration(r.warn_after),
                        fmt_duration(r.max_runtime),
                        r.sla_source or "none",
                    ]
                    for r in active
                ),
                empty="no active runs",
            )
        ),
        "counts_by_state": MetadataValue.md(
            md_table(
                ["state", f"runs (last {window})"],
                sorted(summary.counts_by_state.items(), key=lambda kv: (-kv[1], kv[0])),
                empty=f"no runs in the last {window}",
            )
        ),
        "failures": MetadataValue.md(
            md_table(
                ["run", "name", "tenant", "ended", "attribution", "error"],
                (
                    [
                        _link(f.workflow_id, f.link),
                        f.name,
                        f.tenant,
                        _fmt_time(f.ended_at),
                        f.attribution or "-",
                        f"{f.error_type or ''}: {f.message or ''}".strip(": ") or "-",
                    ]
                    for f in summary.failures
                ),
                empty=f"no failed runs in the last {window}",
            )
        ),
        "durations": MetadataValue.md(
            md_table(
                ["workflow", "tenant", "successful runs", "p50", "p95", "max"],
                (
                    [
                        d.name,
                        d.tenant,
                        d.samples,
                        fmt_duration(d.p50),
                        fmt_duration(d.p95),
                        fmt_duration(d.max),
                    ]
                    for d in sorted(summary.durations, key=lambda d: -d.p95)
                ),
                empty="no successful runs in the history yet",
            )
        ),
        "polled": MetadataValue.md(
            md_table(
                ["tenant", "result"],
                [[t, line] for t, line in polled.items()]
                + [[t, f"**failed**: {msg}"] for t, msg in errors.items()],
                empty="no tenants",
            )
        ),
    }


def ingest_metadata(
    summary: IngestSummary, *, polled: Mapping[str, str], errors: Mapping[str, str]
) -> dict[str, Any]:
    """Metadata of one ``amperity/ingest_jobs`` materialization."""
    feeds = sorted(summary.feeds, key=lambda f: (not f.problems, -f.error_rate, -f.reject_rate))
    rows = sum(f.read for f in summary.feeds)
    errors_total = sum(f.errors for f in summary.feeds)
    rejected_total = sum(f.rejected for f in summary.feeds)
    return {
        "jobs": MetadataValue.int(summary.jobs),
        "feeds": MetadataValue.int(len(summary.feeds)),
        "unhealthy_feeds": MetadataValue.int(len(summary.unhealthy)),
        "rows_read": MetadataValue.int(rows),
        "error_rate_percent": MetadataValue.float(
            round(100 * errors_total / rows, 3) if rows else 0.0
        ),
        "reject_rate_percent": MetadataValue.float(
            round(100 * rejected_total / rows, 3) if rows else 0.0
        ),
        "tenants_unreachable": MetadataValue.int(len(errors)),
        "feed_table": MetadataValue.md(
            md_table(
                [
                    "health",
                    "table",
                    "job",
                    "tenant",
                    "state",
                    "read",
                    "errors",
                    "rejected",
                    "error %",
                    "reject %",
                ],
                (
                    [
                        "; ".join(f.problems) if f.problems else "ok",
                        f.table,
                        f"`{f.job_id}`",
                        f.tenant,
                        f.state,
                        f.read,
                        f.errors,
                        f.rejected,
                        f"{100 * f.error_rate:.2f}",
                        f"{100 * f.reject_rate:.2f}",
                    ]
                    for f in feeds
                ),
                empty="no ingest jobs in the window",
            )
        ),
        "polled": MetadataValue.md(
            md_table(
                ["tenant", "result"],
                [[t, line] for t, line in polled.items()]
                + [[t, f"**failed**: {msg}"] for t, msg in errors.items()],
                empty="no tenants",
            )
        ),
    }
