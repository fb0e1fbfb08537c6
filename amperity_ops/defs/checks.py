"""Asset checks of the polling assets: red for a reason a person can read.

The checks are declared as ``check_specs`` on the assets and evaluated in the same step, from
the same summary the materialization shows, so a check never disagrees with the metadata next
to it and costs no extra API call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

from amperity_ops.core.wording import past_limit
from amperity_ops.defs.metadata import fmt_duration, md_table, plural, run_link, sla_cell
from amperity_ops.services.summary import FeedRow, IngestSummary, RunsSummary
from amperity_ops.settings import IngestThresholds

__all__ = [
    "INGEST_JOBS_KEY",
    "WORKFLOW_RUNS_KEY",
    "ingest_check_results",
    "ingest_check_specs",
    "runs_check_results",
    "runs_check_specs",
]

WORKFLOW_RUNS_KEY = AssetKey(["amperity", "workflow_runs"])
INGEST_JOBS_KEY = AssetKey(["amperity", "ingest_jobs"])


def runs_check_specs() -> list[AssetCheckSpec]:
    """The checks of ``amperity/workflow_runs``."""
    return [
        AssetCheckSpec(
            "runs_within_sla",
            asset=WORKFLOW_RUNS_KEY,
            description="No active run is over its maximum runtime (explicit policy, else "
            "Amperity's warn_after, else the learned baseline).",
        ),
        AssetCheckSpec(
            "no_failed_runs_in_window",
            asset=WORKFLOW_RUNS_KEY,
            description="No workflow run failed in the summary window (24 h).",
        ),
        AssetCheckSpec(
            "all_tenants_polled",
            asset=WORKFLOW_RUNS_KEY,
            description="Every tenant in the policy file answered the poll.",
        ),
    ]


def ingest_check_specs() -> list[AssetCheckSpec]:
    """The checks of ``amperity/ingest_jobs``."""
    return [
        AssetCheckSpec(
            "ingest_error_rate_within_threshold",
            asset=INGEST_JOBS_KEY,
            description="No feed's error rate (errors / rows read) is over "
            "ingest_thresholds.max_error_rate.",
        ),
        AssetCheckSpec(
            "ingest_reject_rate_within_threshold",
            asset=INGEST_JOBS_KEY,
            description="No feed's reject rate (rejected / rows read) is over "
            "ingest_thresholds.max_reject_rate.",
        ),
        AssetCheckSpec(
            "no_failed_feeds",
            asset=INGEST_JOBS_KEY,
            description="No ingest feed failed.",
        ),
    ]


def _tenant_errors_result(key: AssetKey, errors: Mapping[str, str]) -> AssetCheckResult:
    return AssetCheckResult(
        asset_key=key,
        check_name="all_tenants_polled",
        passed=not errors,
        severity=AssetCheckSeverity.ERROR,
        description=(
            "every tenant answered"
            if not errors
            else "could not poll: " + "; ".join(f"{t}: {m}" for t, m in errors.items())
        ),
        metadata={"unreachable": MetadataValue.int(len(errors))},
    )


def runs_check_results(
    summary: RunsSummary, *, errors: Mapping[str, str]
) -> list[AssetCheckResult]:
    """Evaluate the workflow-run checks on a summary.

    Args:
        summary: What the materialization shows.
        errors: Tenant -> why its poll failed.

    Returns:
        One result per spec of :func:`runs_check_specs`.
    """
    breached = summary.breached
    failures = summary.failures
    many = len(summary.tenants) != 1
    return [
        AssetCheckResult(
            asset_key=WORKFLOW_RUNS_KEY,
            check_name="runs_within_sla",
            passed=not breached,
            severity=AssetCheckSeverity.ERROR,
            description=(
                f"{plural(len(summary.active), 'active run')} within SLA"
                f" ({len(summary.warning)} past "
                f"{'its' if len(summary.active) == 1 else 'their'} warning line)"
                if not breached
                else f"{plural(len(breached), 'run')} over max runtime: "
                + ", ".join(
                    f"{r.name} ({r.workflow_id}) "
                    f"{past_limit(r.runtime, r.max_runtime, fmt_duration)}"
                    for r in breached[:5]
                )
            ),
            metadata={
                "breached": MetadataValue.int(len(breached)),
                "warning": MetadataValue.int(len(summary.warning)),
                "breached_runs": MetadataValue.md(
                    md_table(
                        ["SLA", "run", "name", *(["tenant"] if many else []), "runtime", "rule"],
                        (
                            [
                                sla_cell(r),
                                run_link(r.workflow_id, r.link),
                                r.name,
                                *([r.tenant] if many else []),
                                fmt_duration(r.runtime),
                                r.sla_source or "-",
                            ]
                            for r in breached
                        ),
                        empty="none",
                    )
                ),
            },
        ),
        AssetCheckResult(
            asset_key=WORKFLOW_RUNS_KEY,
            check_name="no_failed_runs_in_window",
            passed=not failures,
            severity=AssetCheckSeverity.WARN,
            description=(
                f"no failed runs in the last {fmt_duration(summary.window)}"
                if not failures
                else f"{len(failures)} failed run(s) in the last {fmt_duration(summary.window)}: "
                + ", ".join(
                    f"{f.name} ({f.workflow_id}, {f.attribution or 'no attribution'})"
                    for f in failures[:5]
                )
            ),
            metadata={"failed": MetadataValue.int(len(failures))},
        ),
        _tenant_errors_result(WORKFLOW_RUNS_KEY, errors),
    ]


def ingest_check_results(
    summary: IngestSummary, thresholds: IngestThresholds, *, errors: Mapping[str, str]
) -> list[AssetCheckResult]:
    """Evaluate the ingest checks on a summary.

    Args:
        summary: What the materialization shows.
        thresholds: ``ingest_thresholds`` from the policy file.
        errors: Tenant -> why its poll failed (reported in every check's description).

    Returns:
        One result per spec of :func:`ingest_check_specs`.
    """
    failed = [f for f in summary.feeds if f.state.lower() == "failed"]
    note = f" (not polled: {', '.join(errors)})" if errors else ""
    return [
        _rate_check(
            "ingest_error_rate_within_threshold",
            summary.feeds,
            rate="error_rate",
            limit=thresholds.max_error_rate,
            noun="errors",
            note=note,
        ),
        _rate_check(
            "ingest_reject_rate_within_threshold",
            summary.feeds,
            rate="reject_rate",
            limit=thresholds.max_reject_rate,
            noun="rejects",
            note=note,
        ),
        AssetCheckResult(
            asset_key=INGEST_JOBS_KEY,
            check_name="no_failed_feeds",
            passed=not failed,
            severity=AssetCheckSeverity.ERROR,
            description=(
                f"no failed feeds{note}"
                if not failed
                else f"{len(failed)} failed feed(s): "
                + ", ".join(f"{f.table} in {f.job_id}" for f in failed[:5])
                + note
            ),
            metadata={"failed_feeds": MetadataValue.int(len(failed))},
        ),
    ]


def _rate_check(
    check_name: str,
    feeds: Sequence[FeedRow],
    *,
    rate: Literal["error_rate", "reject_rate"],
    limit: float,
    noun: str,
    note: str,
) -> AssetCheckResult:
    """One rate check: passes when no feed's ``rate`` is over ``limit``; names the first five."""
    over = [f for f in feeds if getattr(f, rate) > limit]
    listing = ", ".join(f"{f.table} in {f.job_id}: {100 * getattr(f, rate):.2f}%" for f in over[:5])
    return AssetCheckResult(
        asset_key=INGEST_JOBS_KEY,
        check_name=check_name,
        passed=not over,
        severity=AssetCheckSeverity.WARN,
        description=(
            f"every feed under {100 * limit:g}% {noun}{note}"
            if not over
            else f"{len(over)} feed(s) over {100 * limit:g}% {noun}: {listing}{note}"
        ),
        metadata={"feeds_over": MetadataValue.int(len(over))},
    )
