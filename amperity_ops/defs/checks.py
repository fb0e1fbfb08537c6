"""Asset checks of the polling assets: red for a reason a person can read.

The checks are declared as ``check_specs`` on the assets and evaluated in the same step, from
the same summary the materialization shows, so a check never disagrees with the metadata next
to it and costs no extra API call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence, Sized
from typing import Any, Literal

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

from amperity_ops.core.wording import past_limit
from amperity_ops.defs.metadata import fmt_duration, md_table, plural, run_link, sla_cell
from amperity_ops.services.summary import FeedRow, IngestSummary, RunsSummary
from amperity_ops.settings import IngestThresholds

__all__ = [
    "CHECK_RESULTS_KEY",
    "INGEST_JOBS_KEY",
    "WORKFLOW_RUNS_KEY",
    "check_results_metadata",
    "ingest_check_results",
    "ingest_check_specs",
    "runs_check_results",
    "runs_check_specs",
]

WORKFLOW_RUNS_KEY = AssetKey(["amperity", "workflow_runs"])
INGEST_JOBS_KEY = AssetKey(["amperity", "ingest_jobs"])


_RUNS_CHECKS = {
    "runs_within_sla": "No active run is over its maximum runtime (explicit policy, else "
    "Amperity's warn_after, else the learned baseline).",
    "no_failed_runs_in_window": "No workflow run failed in the summary window (24 h).",
    "all_tenants_polled": "Every tenant in the policy file answered the poll.",
}
_INGEST_CHECKS = {
    "ingest_error_rate_within_threshold": "No feed's error rate (errors / rows read) is over "
    "ingest_thresholds.max_error_rate.",
    "ingest_reject_rate_within_threshold": "No feed's reject rate (rejected / rows read) is "
    "over ingest_thresholds.max_reject_rate.",
    "no_failed_feeds": "No ingest feed failed.",
}


CHECK_RESULTS_KEY = "check_results"
"""Materialization metadata key holding the checks' verdicts (JSON), replayed by the checks."""


def _plain(value: Any) -> dict[str, Any]:
    raw = getattr(value, "value", value)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return {"int": raw}
    if isinstance(raw, float):
        return {"float": raw}
    return {"md": str(raw)}


def check_results_metadata(results: list[AssetCheckResult]) -> MetadataValue:
    """The verdicts as compact JSON in a text value (``check_runs._replay`` reads it back).

    Text, not ``MetadataValue.json``: the UI shows a JSON value inline, indented and unwrapped,
    and its long description lines widened the whole metadata table past the asset page,
    clipping the ``attention`` line and every table. Text wraps.
    """
    return MetadataValue.text(json.dumps([
        {"check_name": r.check_name, "passed": r.passed, "severity": r.severity.value,
         "description": r.description,
         "metadata": {k: _plain(v) for k, v in (r.metadata or {}).items()}}
        for r in results
    ]))



def _specs(key: AssetKey, checks: Mapping[str, str]) -> list[AssetCheckSpec]:
    return [AssetCheckSpec(name, asset=key, description=text) for name, text in checks.items()]


def runs_check_specs(key: AssetKey = WORKFLOW_RUNS_KEY) -> list[AssetCheckSpec]:
    """The checks of ``amperity/workflow_runs`` (or of a suffixed instance's ``key``)."""
    return _specs(key, _RUNS_CHECKS)


def ingest_check_specs(key: AssetKey = INGEST_JOBS_KEY) -> list[AssetCheckSpec]:
    """The checks of ``amperity/ingest_jobs`` (or of a suffixed instance's ``key``)."""
    return _specs(key, _INGEST_CHECKS)


def _result(
    key: AssetKey,
    name: str,
    severity: AssetCheckSeverity,
    failing: Sized,
    *,
    ok: str,
    bad: str,
    metadata: Mapping[str, MetadataValue],
) -> AssetCheckResult:
    """A check that passes when nothing is ``failing``, told by ``ok`` or else ``bad``."""
    return AssetCheckResult(asset_key=key, check_name=name, passed=not failing,
                            severity=severity, description=bad if failing else ok,
                            metadata=dict(metadata))


def _tenant_errors_result(key: AssetKey, errors: Mapping[str, str]) -> AssetCheckResult:
    return _result(
        key, "all_tenants_polled", AssetCheckSeverity.ERROR, errors,
        ok="every tenant answered",
        bad="could not poll: " + "; ".join(f"{t}: {m}" for t, m in errors.items()),
        metadata={"unreachable": MetadataValue.int(len(errors))},
    )


def runs_check_results(
    summary: RunsSummary, *, errors: Mapping[str, str], key: AssetKey = WORKFLOW_RUNS_KEY
) -> list[AssetCheckResult]:
    """Evaluate the workflow-run checks on a summary.

    Args:
        summary: What the materialization shows.
        errors: Tenant -> why its poll failed.
        key: The asset the checks belong to (a suffixed instance's own).

    Returns:
        One result per spec of :func:`runs_check_specs`.
    """
    breached = summary.breached
    failures = summary.failures
    many = len(summary.tenants) != 1
    window = fmt_duration(summary.window)
    breached_table = md_table(
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
    return [
        _result(
            key, "runs_within_sla", AssetCheckSeverity.ERROR, breached,
            ok=f"{plural(len(summary.active), 'active run')} within SLA"
            f" ({len(summary.warning)} past "
            f"{'its' if len(summary.active) == 1 else 'their'} warning line)",
            bad=f"{plural(len(breached), 'run')} over max runtime: " + ", ".join(
                f"{r.name} ({r.workflow_id}) {past_limit(r.runtime, r.max_runtime, fmt_duration)}"
                for r in breached[:5]
            ),
            metadata={
                "breached": MetadataValue.int(len(breached)),
                "warning": MetadataValue.int(len(summary.warning)),
                "breached_runs": MetadataValue.md(breached_table),
            },
        ),
        _result(
            key, "no_failed_runs_in_window", AssetCheckSeverity.WARN, failures,
            ok=f"no failed runs in the last {window}",
            bad=f"{len(failures)} failed run(s) in the last {window}: " + ", ".join(
                f"{f.name} ({f.workflow_id}, {f.attribution or 'no attribution'})"
                for f in failures[:5]
            ),
            metadata={"failed": MetadataValue.int(len(failures))},
        ),
        _tenant_errors_result(key, errors),
    ]


def ingest_check_results(
    summary: IngestSummary, thresholds: IngestThresholds, *, errors: Mapping[str, str],
    key: AssetKey = INGEST_JOBS_KEY,
) -> list[AssetCheckResult]:
    """Evaluate the ingest checks on a summary.

    Args:
        summary: What the materialization shows.
        thresholds: ``ingest_thresholds`` from the policy file.
        errors: Tenant -> why its poll failed (reported in every check's description).
        key: The asset the checks belong to (a suffixed instance's own).

    Returns:
        One result per spec of :func:`ingest_check_specs`.
    """
    failed = [f for f in summary.feeds if f.state.lower() == "failed"]
    note = f" (not polled: {', '.join(errors)})" if errors else ""
    rates: list[tuple[str, Literal["error_rate", "reject_rate"], float, str]] = [
        ("ingest_error_rate_within_threshold", "error_rate", thresholds.max_error_rate, "errors"),
        ("ingest_reject_rate_within_threshold", "reject_rate", thresholds.max_reject_rate,
         "rejects"),
    ]
    return [
        *(_rate_check(key, name, summary.feeds, rate=rate, limit=limit, noun=noun, note=note)
          for name, rate, limit, noun in rates),
        _result(
            key, "no_failed_feeds", AssetCheckSeverity.ERROR, failed,
            ok=f"no failed feeds{note}",
            bad=f"{len(failed)} failed feed(s): "
            + ", ".join(f"{f.table} in {f.job_id}" for f in failed[:5]) + note,
            metadata={"failed_feeds": MetadataValue.int(len(failed))},
        ),
    ]


def _rate_check(
    key: AssetKey,
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
    return _result(
        key, check_name, AssetCheckSeverity.WARN, over,
        ok=f"every feed under {100 * limit:g}% {noun}{note}",
        bad=f"{len(over)} feed(s) over {100 * limit:g}% {noun}: {listing}{note}",
        metadata={"feeds_over": MetadataValue.int(len(over))},
    )
