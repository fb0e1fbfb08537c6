"""Decisions about profile indexes: what to report of each read, and whether one is fresh.

Pure: the indexes are read by ``services/indexes.py``; the index sensor reports what this says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from amperity_ops.client import Index

__all__ = ["IndexReport", "plan_index_reports"]


@dataclass(frozen=True)
class IndexReport:
    """What to report for one index after a read."""

    index: Index
    observe: bool
    """Its ``updated_at`` changed since the last report (or was never reported)."""
    materialize: bool
    """A new build that is itself fresh: reported as a materialization too, so Dagster's
    freshness policy (which counts materializations) sees it. An old build first seen after a
    restart is only observed: it must not make a stale index look fresh."""
    fresh: bool
    """Updated within ``fresh_within`` of ``now`` (an index without ``updated_at`` is not)."""
    fresh_changed: bool
    """The freshness verdict differs from the last one reported (or none was)."""
    age: timedelta | None


def plan_index_reports(
    indexes: Iterable[Index],
    *,
    seen: Mapping[str, tuple[str | None, bool]],
    now: datetime,
    fresh_within: timedelta,
) -> list[IndexReport]:
    """One report per index read.

    Args:
        indexes: The indexes as read now.
        seen: Index id -> (``updated_at`` as last reported in ISO form, fresh as last reported).
        now: The current time.
        fresh_within: The freshness window (``indexes.fresh_within``).

    Returns:
        The reports, in the order read.
    """
    reports = []
    for index in indexes:
        updated = index.updated_at.isoformat() if index.updated_at else None
        age = None if index.updated_at is None else max(now - index.updated_at, timedelta(0))
        fresh = age is not None and age < fresh_within
        last = seen.get(index.id)
        observe = updated is not None and (last is None or last[0] != updated)
        reports.append(IndexReport(
            index=index,
            observe=observe,
            materialize=observe and fresh,
            fresh=fresh,
            fresh_changed=last is None or last[1] != fresh or observe,
            age=age,
        ))
    return reports
