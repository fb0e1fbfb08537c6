"""Asset events told to Dagster: what was reported, so nothing is reported twice."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Engine, delete, func, select

from amperity_ops.store._sql import insert_ignore
from amperity_ops.store.schema import reported_events

__all__ = ["ReportedEventsMixin"]


class ReportedEventsMixin:
    """Rows of ``ao_reported_events``: (tenant, subject, event) once each."""

    _engine: Engine

    def reported_pairs(self, tenant: str, subjects: Iterable[str]) -> set[tuple[str, str]]:
        """The (subject, event) pairs already reported among these subjects (run or job ids)."""
        ids = sorted(set(subjects))
        c = reported_events.c
        found: set[tuple[str, str]] = set()
        with self._engine.connect() as conn:
            for start in range(0, len(ids), 500):
                stmt = select(c.subject, c.event).where(
                    c.tenant == tenant, c.subject.in_(ids[start:start + 500]))
                found.update((s, e) for s, e in conn.execute(stmt))
        return found

    def last_reported_at(self, tenant: str) -> dict[str, datetime]:
        """Asset ref -> when its latest reported run or feed ended."""
        c = reported_events.c
        stmt = (select(c.asset, func.max(c.happened_at))
                .where(c.tenant == tenant, c.happened_at.is_not(None)).group_by(c.asset))
        with self._engine.connect() as conn:
            # max() keeps the column's type, so values come back UTC-aware.
            return {asset: value for asset, value in conn.execute(stmt) if value is not None}

    def record_reported(
        self,
        tenant: str,
        rows: Sequence[tuple[str, str, str, datetime | None]],
        *,
        now: datetime,
    ) -> int:
        """Remember (subject, event, asset, happened_at) rows as reported; repeats are ignored.

        Returns:
            How many rows were given.
        """
        values = [
            {"tenant": tenant, "subject": s, "event": e, "asset": a, "happened_at": h,
             "reported_at": now}
            for s, e, a, h in rows
        ]
        with self._engine.begin() as conn:
            insert_ignore(conn, reported_events, values, ["tenant", "subject", "event"])
        return len(values)

    def forget_reported(self, tenant: str, subject: str, event: str) -> None:
        """Drop one row: a claim (a startable asset's) that its Dagster run could not honour."""
        c = reported_events.c
        with self._engine.begin() as conn:
            conn.execute(delete(reported_events).where(
                c.tenant == tenant, c.subject == subject, c.event == event))
