"""Runtime statistics: percentiles per workflow and counts by state (for metadata and baselines)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from amperity_ops.client.models import WorkflowRun

__all__ = ["RuntimeStats", "counts_by_state", "percentile", "runtime_stats_by_workflow"]


def percentile(values: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile by linear interpolation between closest ranks (like numpy's default).

    Args:
        values: Numbers in any order.
        p: Between 0 and 100.

    Returns:
        The percentile, or None for an empty sequence.
    """
    if not values:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {p}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class RuntimeStats:
    """Runtimes of one workflow (by name), in seconds."""

    workflow_name: str
    count: int
    p50_s: float
    p95_s: float
    max_s: float


def runtime_stats_by_workflow(
    runs: Iterable[WorkflowRun], now: datetime, *, ended_only: bool = True
) -> dict[str, RuntimeStats]:
    """Percentiles of runtimes per workflow name.

    Args:
        runs: Any runs.
        now: The current time (for runs still active, when ``ended_only`` is False).
        ended_only: Count only runs that have ended (a running run's runtime is not final).

    Returns:
        Workflow name to its statistics, sorted by name.
    """
    by_name: dict[str, list[float]] = {}
    for run in runs:
        runtime = run.runtime(now)
        if (ended_only and run.ended_at is None) or runtime is None:  # None: start unknown
            continue
        by_name.setdefault(run.name, []).append(runtime.total_seconds())
    stats = {}
    for name in sorted(by_name):
        values = by_name[name]
        stats[name] = RuntimeStats(
            workflow_name=name,
            count=len(values),
            p50_s=percentile(values, 50) or 0.0,
            p95_s=percentile(values, 95) or 0.0,
            max_s=max(values),
        )
    return stats


def counts_by_state(runs: Iterable[WorkflowRun]) -> dict[str, int]:
    """How many runs per normalised state kind (``running``, ``failed``, ``unknown`` ...).

    Returns:
        Kind value to count, most common first.
    """
    return dict(Counter(run.state.kind.value for run in runs).most_common())
