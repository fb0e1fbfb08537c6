"""Render service summaries as Dagster metadata a person can read at 3 a.m.

Markdown tables for people, plain numbers for the UI's plots (Dagster plots every numeric
metadata value of an unpartitioned asset over time: ``active``, ``failed``, ``breached``,
``p95_runtime_minutes``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from dagster import MetadataValue

from amperity_ops.client.models import WorkflowRun
from amperity_ops.core import RequesterKind, StopResult, wording
from amperity_ops.core.durations import hours_duration as fmt_duration
from amperity_ops.core.oncall import Silence
from amperity_ops.core.wording import md_cell
from amperity_ops.defs.jobs import workflow_id_tail
from amperity_ops.services.summary import (
    ActiveRunRow,
    FailureRow,
    IngestSummary,
    RunsSummary,
    StopRow,
)

__all__ = [
    "attention_text",
    "fmt_duration",
    "ingest_metadata",
    "inline_split",
    "md_cell",
    "md_table",
    "plural",
    "run_link",
    "runs_metadata",
    "short_run_id",
    "short_run_link",
    "short_time",
    "silences_metadata",
    "sla_cell",
    "unhealthy_feeds_line",
]

MAX_TABLE_ROWS = 50
"""Longer tables are cut (with a note): metadata is for reading, the store keeps the rest."""
INLINE_MARKDOWN_CHARS = 999
"""The Dagster UI renders a markdown metadata value inline only below 1,000 characters
(``MetadataEntry.tsx``); a longer one hides behind a "[Show Markdown]" button."""


def short_time(value: datetime | None, now: datetime) -> str:
    """``19:48Z`` on the day of ``now`` (UTC), else ``11-21 19:48Z``; ``-`` for None.

    Short, so a table cell does not wrap onto three lines.
    """
    if value is None:
        return "-"
    value, today = value.astimezone(UTC), now.astimezone(UTC)
    return value.strftime("%H:%MZ" if value.date() == today.date() else "%m-%d %H:%MZ")


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str) -> str:
    """A markdown table, cut at ``MAX_TABLE_ROWS`` rows; ``empty`` when there are no rows."""
    rows = list(rows)
    if not rows:
        return f"_{empty}_"
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows[:MAX_TABLE_ROWS]]
    if len(rows) > MAX_TABLE_ROWS:
        lines.append(f"\n_... and {len(rows) - MAX_TABLE_ROWS} more_")
    return "\n".join(lines)


def inline_split(key: str, table: str) -> dict[str, Any]:
    """``{key: table}`` when the table renders inline; else its first rows under ``key``
    (inline) and the whole table under ``<key>_all`` (behind "Show Markdown").

    Args:
        key: The metadata key.
        table: A markdown table from :func:`md_table` (header, separator, rows).
    """
    if len(table) <= INLINE_MARKDOWN_CHARS:
        return {key: MetadataValue.md(table)}
    lines = table.splitlines()
    rows = [line for line in lines[2:] if line.startswith("|")]
    kept = lines[:2]
    for index, row in enumerate(rows):
        note = f"\n_+{len(rows) - index} more: see `{key}_all`_"
        if len("\n".join([*kept, row])) + len(note) + 20 > INLINE_MARKDOWN_CHARS:
            break
        kept.append(row)
    left = len(rows) - (len(kept) - 2)
    head = "\n".join(kept) + f"\n\n_+{left} more: see `{key}_all`_"
    return {key: MetadataValue.md(head), f"{key}_all": MetadataValue.md(table)}


def _feed_trouble(problem: str) -> str:
    """``Orders: 1.55% errors > 1.00% (231 of 14,864 rows)`` -> ``1.55% errors``."""
    text = problem.split(": ", 1)[-1]
    if text == "feed failed":
        return "failed"
    return text.split(" > ", 1)[0]


def unhealthy_feeds_line(summary: IngestSummary) -> str:
    """One line naming the unhealthy feeds, each table once with what is wrong:
    ``2 unhealthy of 12: POS_Stores (failed), Orders (1.55% errors)``; else ``all 12 feeds
    healthy`` or ``no ingest feeds in the window``. The feed table has the numbers."""
    if not summary.feeds:
        return "no ingest feeds in the window"
    bad = [f for f in summary.feeds if f.problems]
    if not bad:
        return f"all {plural(len(summary.feeds), 'feed')} healthy"
    troubles: dict[str, dict[str, str]] = {}
    # Failed feeds first, then the worst rates: the line is read left to right at 3 a.m.;
    # a table failing in several jobs is named once, with its worst figure of each kind.
    for feed in sorted(bad, key=lambda f: (not any("failed" in p for p in f.problems),
                                           -f.error_rate, -f.reject_rate)):
        kinds = troubles.setdefault(feed.table, {})
        for trouble in map(_feed_trouble, feed.problems):
            kinds.setdefault(trouble.rsplit(" ", 1)[-1], trouble)
    named = [f"{table} ({', '.join(found.values())})" for table, found in troubles.items()]
    shown = named[:MAX_ATTENTION_RUNS]
    more = len(named) - len(shown)
    return (f"{len(bad)} unhealthy of {len(summary.feeds)}: " + ", ".join(shown)
            + (f", +{more} more tables" if more > 0 else ""))


def run_link(workflow_id: str, link: str | None) -> str:
    """The run id as a markdown link to the Amperity app when known, else as code."""
    return f"[{workflow_id}]({link})" if link else f"`{workflow_id}`"


NB_HYPHEN = "\u2011"
WORD_JOINER = "\u2060"
"""Shown in short ids instead of ``-`` (the link and its title keep the real id)."""


def _unbroken(duration: str) -> str:
    """``44m 23s`` with a non-breaking space: a narrow table cell keeps it on one line."""
    return duration.replace(" ", "\u00a0")


def short_run_link(workflow_id: str, link: str | None) -> str:
    """The id's distinguishing tail as a link whose title (shown on hover) is the full id.

    ``[…14418-6UhqSe](https://.../#/workflows/wf-20240619-14418-6UhqSe "wf-20240619-...")``:
    a full id is an unbreakable 25 characters that widens the whole metadata table past the
    page; the link (and the ``*_details`` list below it) keeps the full id. Without a link,
    the tail as code. An id of another shape is shown whole.
    """
    tail = workflow_id_tail(workflow_id)
    if tail == workflow_id:
        return f"[{workflow_id}]({link})" if link else f"`{workflow_id}`"
    # A word joiner and a non-breaking hyphen: a narrow cell would otherwise wrap the tail
    # after the ellipsis or at its hyphen.
    shown = "…" + WORD_JOINER + tail.replace("-", NB_HYPHEN)
    return f'[{shown}]({link} "{workflow_id}")' if link else f"`{shown}`"


def sla_cell(row: ActiveRunRow) -> str:
    """``BREACHED +15m 34s (max 10m, stop)``, ``WARNING +1m 02s (max 10m)``, ``ok (warn 5m)``.

    The same reading as the CLI's SLA column: the verdict, how far past the line that set it,
    and the next line the run can cross (a run that is ok shows its warning line, a late one
    its maximum), plus ``stop`` when the policy stops runs and the rule's source when it is
    not an explicit policy. ``-`` when no SLA applies.
    """
    if row.sla_source is None:
        return "-"
    return str(wording.sla_cell(row.level, row.runtime, warn_after=row.warn_after,
                                max_runtime=row.max_runtime, action=row.action,
                                source=row.sla_source))


_LEVEL_ORDER = {"breached": 0, "warning": 1, "ok": 2}
MAX_ATTENTION_RUNS = 5
"""The top-level ``attention`` line names at most this many runs, then ``+N more``."""


def short_run_id(workflow_id: str) -> str:
    """``…6UhqSe`` for a long id (its random tail tells runs apart), else the id itself."""
    return workflow_id if len(workflow_id) <= 12 else "…" + workflow_id[-6:]


def plural(count: int, noun: str) -> str:
    """``1 active run``, ``2 active runs``, ``0 active runs``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def attention_text(summary: RunsSummary, *, time_mark: str = "") -> str:
    """One short line naming the breached and warning runs (shown without opening a table).

    Names and how far over come first, the id shortened last, so a narrow column still shows
    what matters: ``BREACHED 1: Daily Ecommerce Sources +15m 34s (…6UhqSe). WARNING 1: ...``.
    When nothing is late: ``all 3 active runs within SLA`` or ``no active runs``, followed by
    the stops amperity-ops made in the window (``amperity-ops stopped 1 in the last 24h
    (latest: Daily Ecommerce Sources, 17:13Z)``), so a quiet line right after a stop does not
    read as "nothing happened". ``time_mark`` follows that time (`` (sim)`` for the demo's
    simulated clock).
    """
    parts = []
    for label, rows, limit_of in (
        ("BREACHED", summary.breached, lambda r: r.max_runtime),
        ("WARNING", summary.warning, lambda r: r.warn_after),
    ):
        if not rows:
            continue
        ordered = sorted(rows, key=lambda r: -r.runtime)
        names = []
        for row in ordered[:MAX_ATTENTION_RUNS]:
            limit = limit_of(row)
            over = f" {wording.over_by(row.runtime - limit)}" if limit is not None else ""
            names.append(f"{row.name}{over} ({short_run_id(row.workflow_id)})")
        more = len(ordered) - MAX_ATTENTION_RUNS
        parts.append(f"{label} {len(rows)}: " + ", ".join(names)
                     + (f", +{more} more" if more > 0 else ""))
    if parts:
        return ". ".join(parts)
    line = (f"all {plural(len(summary.active), 'active run')} within SLA" if summary.active
            else "no active runs")
    stopped = [row for row in summary.real_stops if row.result is StopResult.STOPPED]
    if stopped:
        latest = stopped[0]  # newest first
        line += (f"; amperity-ops stopped {len(stopped)} in the last "
                 f"{fmt_duration(summary.window)} (latest: {latest.name or latest.workflow_id}, "
                 f"{short_time(latest.requested_at, summary.generated_at)}{time_mark})")
    return line


def _without_tenant(headers: list[str], rows: list[list[Any]], keep: bool) -> tuple[
        list[str], list[list[Any]]]:
    """Drop the ``tenant`` column when there is only one tenant (it would say the same)."""
    if keep or "tenant" not in headers:
        return headers, rows
    i = headers.index("tenant")
    return headers[:i] + headers[i + 1:], [row[:i] + row[i + 1:] for row in rows]


def _table(headers: list[str], rows: Iterable[list[Any]], *, empty: str, tenants: bool) -> str:
    cut_headers, cut_rows = _without_tenant(headers, list(rows), tenants)
    return md_table(cut_headers, cut_rows, empty=empty)


def _stop_result(row: StopRow) -> str:
    return row.result.value if row.result is not None else "in flight"


def _dry_run_source(row: StopRow) -> str:
    """Whose dry run: a sensor's is the policy's auto_stop.dry_run; anyone else was checking.

    A person's ``--dry-run`` must not read as "auto_stop.dry_run held it back": that sends the
    on-call to look for a misconfigured policy.
    """
    if row.asked_by.kind is RequesterKind.SENSOR:
        return f"held back by auto_stop.dry_run ({row.requested_by})"
    return f"dry run by {row.requested_by}"


def _states(row: StopRow) -> str:
    return f"{row.state_before or '?'} -> {row.state_after or '?'}"


def _clock_entry(clock: str | None) -> dict[str, Any]:
    """The ``clock`` entry, only when times are not real ones (the demo's simulator)."""
    return {"clock": MetadataValue.text(clock)} if clock else {}


def runs_metadata(
    summary: RunsSummary,
    *,
    polled: Mapping[str, str],
    errors: Mapping[str, str],
    clock: str | None = None,
    time_mark: str = "",
    odd: Mapping[str, Sequence[WorkflowRun]] | None = None,
) -> dict[str, Any]:
    """Metadata of one ``amperity/workflow_runs`` materialization.

    Args:
        summary: The summary from ``summarize_runs``.
        polled: Tenant -> one line about what its poll read.
        errors: Tenant -> why its poll failed (tenants that could not be reached).
        clock: ``core.clock.clock_label`` when the times are not real ones: shown as a
            ``clock`` entry.
        time_mark: ``core.clock.clock_mark``: appended to every time column's header and to
            the attention line's time (`` (sim)`` on the demo's simulator clock).
        odd: Tenant -> runs read this poll that did not fit the model (``problems``): counted
            and listed in an ``odd_records`` table (a run without ``created_at`` shows as
            "start unknown"; it is not in the store until Amperity sends its start).

    Returns:
        Metadata values: the ``attention`` line, numbers to plot, then markdown tables.
    """
    active = sorted(summary.active, key=lambda r: (_LEVEL_ORDER.get(r.level, 3), -r.runtime))
    p95 = summary.p95_runtime
    window = fmt_duration(summary.window)
    now = summary.generated_at
    many = len(summary.tenants) != 1
    sim = time_mark
    return {
        "attention": MetadataValue.text(attention_text(summary, time_mark=sim)),
        **_clock_entry(clock),
        "active": MetadataValue.int(len(summary.active)),
        "breached": MetadataValue.int(len(summary.breached)),
        "warning": MetadataValue.int(len(summary.warning)),
        "failed": MetadataValue.int(len(summary.failures)),
        "stops_requested": MetadataValue.int(len(summary.real_stops)),
        "p95_runtime_minutes": MetadataValue.float(
            round(p95.total_seconds() / 60, 2) if p95 else 0.0
        ),
        "tenants_unreachable": MetadataValue.int(len(errors)),
        "active_runs": MetadataValue.md(
            _table(
                ["SLA", "run", "name", "tenant", "runtime"],
                (
                    [sla_cell(r), short_run_link(r.workflow_id, r.link), r.name, r.tenant,
                     fmt_duration(r.runtime)]
                    for r in active
                ),
                empty="no active runs",
                tenants=many,
            )
        ),
        **_details("active_runs_details", (
            f"{run_link(r.workflow_id, r.link)}: {md_cell(r.name)}"
            + (f" ({r.tenant})" if many else "")
            + f", {r.state}, started {short_time(r.started_at, now)}{sim}, runtime "
            f"{fmt_duration(r.runtime)}, rule {r.sla_source or 'none'}"
            for r in active
        )),
        "recent_stops": MetadataValue.md(
            _table(
                ["run", "name", "tenant", "result", f"when{sim}"],
                (
                    [
                        short_run_link(r.workflow_id, r.link),
                        r.name or "-",
                        r.tenant,
                        _stop_result(r),
                        short_time(r.requested_at, now),
                    ]
                    for r in summary.real_stops
                ),
                empty=f"amperity-ops stopped no runs in the last {window}",
                tenants=many,
            )
        ),
        **_details("recent_stops_details", (
            f"{run_link(r.workflow_id, r.link)}: {md_cell(r.name or '-')}"
            + (f" ({r.tenant})" if many else "")
            + f", {_stop_result(r)} ({_states(r)}) at {short_time(r.requested_at, now)}{sim}"
            f", requested by {md_cell(r.requested_by)}: {md_cell(r.reason)}"
            for r in summary.real_stops
        )),
        **(
            {
                "dry_run_notes": MetadataValue.md(
                    "_Dry runs: these runs were **not** stopped (`dry run` says whose)._\n\n"
                    + _table(
                        ["run", "name", "tenant", "dry run", "would have stopped because",
                         f"when{sim}"],
                        (
                            [
                                short_run_link(r.workflow_id, r.link),
                                r.name or "-",
                                r.tenant,
                                _dry_run_source(r),
                                r.reason,
                                short_time(r.requested_at, now),
                            ]
                            for r in summary.dry_run_notes
                        ),
                        empty="none",
                        tenants=many,
                    )
                )
            }
            if summary.dry_run_notes
            else {}
        ),
        "counts_by_state": MetadataValue.md(
            md_table(
                ["state", f"runs (last {window})"],
                sorted(summary.counts_by_state.items(), key=lambda kv: (-kv[1], kv[0])),
                empty=f"no runs in the last {window}",
            )
        ),
        **_failure_entries(summary, now=now, sim=sim, many=many),
        "durations": MetadataValue.md(
            _table(
                ["workflow", "tenant", "successful runs", "p50", "p95", "max"],
                (
                    [
                        d.name,
                        d.tenant,
                        d.samples,
                        _unbroken(fmt_duration(d.p50)),
                        _unbroken(fmt_duration(d.p95)),
                        _unbroken(fmt_duration(d.max)),
                    ]
                    for d in sorted(summary.durations, key=lambda d: -d.p95)
                ),
                empty="no successful runs in the history yet",
                tenants=many,
            )
        ),
        "polled": _polled_table(polled, errors),
        **_odd_entries(odd or {}, now),
    }


def _failure_entries(summary: RunsSummary, *, now: datetime, sim: str,
                     many: bool) -> dict[str, Any]:
    """``failures`` (a narrow table), ``failures_details`` (the errors, as wrapping lines that
    stay inline) and, when either had to be cut, ``failures_all`` (everything, one table).

    The error is a column of its own nowhere inline: Amperity's error types are long unbroken
    words (``amperity.workflow.task.ingest/schema:``) that widened the asset page's whole
    metadata table and clipped every row of it.
    """
    failures = summary.failures
    window = fmt_duration(summary.window)
    empty = f"no failed runs in the last {window}"

    def error(f: FailureRow) -> str:
        return f"{f.error_type or ''}: {f.message or ''}".strip(": ") or "-"

    narrow = _table(
        ["run", "name", "tenant", f"ended{sim}", "attribution"],
        ([short_run_link(f.workflow_id, f.link), f.name, f.tenant, short_time(f.ended_at, now),
          f.attribution or "-"] for f in failures),
        empty=empty, tenants=many)
    full = _table(
        ["run", "name", "tenant", f"ended{sim}", "attribution", "error"],
        ([run_link(f.workflow_id, f.link), f.name, f.tenant, short_time(f.ended_at, now),
          f.attribution or "-", error(f)] for f in failures),
        empty=empty, tenants=many)
    out = {"failures": inline_split("failures", narrow)["failures"]}
    lines = [f"{short_run_link(f.workflow_id, f.link)} {md_cell(f.name)}: {md_cell(error(f))}"
             for f in failures]
    kept: list[str] = []
    for line in lines:
        if len("\n".join(f"- {x}" for x in [*kept, line])) + 40 > INLINE_MARKDOWN_CHARS:
            break
        kept.append(line)
    if kept:
        text = "\n".join(f"- {x}" for x in kept)
        if len(kept) < len(lines):
            text += f"\n\n_+{len(lines) - len(kept)} more: see `failures_all`_"
        out["failures_details"] = MetadataValue.md(text)
    if len(kept) < len(lines) or len(narrow) > INLINE_MARKDOWN_CHARS:
        out["failures_all"] = MetadataValue.md(full)
    return out


def _details(key: str, lines: Iterable[str]) -> dict[str, Any]:
    """``{key: a bullet list}`` that renders inline, plus ``<key>_all`` (every line, cut at
    ``MAX_TABLE_ROWS``, behind "Show Markdown") when not all lines fit; nothing without lines.

    The columns a person needs second (full id, state, who asked, why) as wrapping lines
    below a narrow table: a wide table would widen the asset page's whole metadata table
    and clip every row, the ``attention`` line included.
    """
    lines = list(lines)
    if not lines:
        return {}
    text = "\n".join(f"- {line}" for line in lines[:MAX_TABLE_ROWS])
    if len(lines) > MAX_TABLE_ROWS:
        text += f"\n\n_... and {len(lines) - MAX_TABLE_ROWS} more_"
    if len(text) <= INLINE_MARKDOWN_CHARS:
        return {key: MetadataValue.md(text)}
    kept: list[str] = []
    for line in lines:
        if len("\n".join(f"- {x}" for x in [*kept, line])) + 40 > INLINE_MARKDOWN_CHARS:
            break
        kept.append(line)
    head = "\n".join(f"- {x}" for x in kept)
    head += f"\n\n_+{len(lines) - len(kept)} more: see `{key}_all`_"
    return {key: MetadataValue.md(head), f"{key}_all": MetadataValue.md(text)}


def _odd_entries(odd: Mapping[str, Sequence[WorkflowRun]], now: datetime) -> dict[str, Any]:
    """``odd_records`` (a count to plot) and a table of them, only when there are some."""
    rows = [(tenant, run) for tenant, runs in odd.items() for run in runs]
    if not rows:
        return {}
    many = len(odd) != 1
    return {
        "odd_records": MetadataValue.int(len(rows)),
        "odd_records_table": MetadataValue.md(_table(
            ["run", "name", "tenant", "state", "started", "what is missing"],
            ([run.id, run.name or "-", tenant, run.state.raw,
              "start unknown" if run.start_unknown else short_time(run.created_at, now),
              wording.data_note(run, run.problems)] for tenant, run in rows),
            empty="no odd records", tenants=many)),
    }


def _polled_table(polled: Mapping[str, str], errors: Mapping[str, str]) -> MetadataValue:
    """What each tenant's poll read, and which tenants failed (both polling assets)."""
    return MetadataValue.md(
        md_table(
            ["tenant", "result"],
            [[t, line] for t, line in polled.items()]
            + [[t, f"**failed**: {msg}"] for t, msg in errors.items()],
            empty="no tenants",
        )
    )


def ingest_metadata(
    summary: IngestSummary,
    *,
    polled: Mapping[str, str],
    errors: Mapping[str, str],
    clock: str | None = None,
) -> dict[str, Any]:
    """Metadata of one ``amperity/ingest_jobs`` materialization (``clock``: see runs_metadata)."""
    feeds = sorted(summary.feeds, key=lambda f: (not f.problems, -f.error_rate, -f.reject_rate))
    rows = sum(f.read for f in summary.feeds)
    errors_total = sum(f.errors for f in summary.feeds)
    rejected_total = sum(f.rejected for f in summary.feeds)
    return {
        "health": MetadataValue.text(unhealthy_feeds_line(summary)),
        **_clock_entry(clock),
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
        **inline_split("feed_table",
            _table(
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
                        run_link(f.job_id, f.link),
                        f.tenant,
                        f.state,
                        f"{f.read:,}",  # as the alerts write them
                        f"{f.errors:,}",
                        f"{f.rejected:,}",
                        f"{100 * f.error_rate:.2f}",
                        f"{100 * f.reject_rate:.2f}",
                    ]
                    for f in feeds
                ),
                empty="no ingest jobs in the window",
                # One tenant polled: no tenant column (as on workflow_runs).
                tenants=len({*polled, *errors}) > 1,
            )
        ),
        "polled": _polled_table(polled, errors),
    }


def silences_metadata(silences: Sequence[Silence], now: datetime,
                      time_mark: str = "") -> dict[str, Any]:
    """``silences``: one line per active silence (who, what, until, why); nothing when none.

    Args:
        silences: The active silences (``Store.active_silences``).
        now: The asset's time.
        time_mark: ``core.clock.clock_mark`` (`` (sim)`` on the demo's simulator clock).
    """
    if not silences:
        return {}
    lines = [f"#{s.id} {s.subject}: {s.describe(now, time_mark)}" for s in silences]
    return {"silences": MetadataValue.text(" | ".join(lines))}
