"""The stop ledger: every stop requested (or dry-run noted), by whom, why, and how it went."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, insert, select, update

from amperity_ops.store.schema import stop_ledger

__all__ = ["StopLedgerMixin", "StopRecord"]


@dataclass(frozen=True)
class StopRecord:
    """One ledger row."""

    id: int
    run_key: str
    tenant: str
    workflow_id: str
    workflow_name: str
    requested_by: str
    reason: str
    dry_run: bool
    requested_at: datetime
    state_before: str | None
    state_after: str | None
    result: str | None
    """E.g. ``stopped``, ``not_running``, ``vanished``, ``timeout``, ``failed``, ``dry_run``;
    None while the stop is in flight."""
    finished_at: datetime | None
    detail: str | None


class StopLedgerMixin:
    """Record stops and answer the guard rails' questions (how many lately? this run already?)."""

    _engine: Engine

    def record_stop(
        self, *, run_key: str, tenant: str, workflow_id: str, requested_by: str, reason: str,
        dry_run: bool, requested_at: datetime, workflow_name: str = "",
        state_before: str | None = None,
    ) -> int:
        """Add a ledger row when a stop is requested (or noted in dry run).

        Returns:
            The row id, for :meth:`finish_stop`.
        """
        values = {"run_key": run_key, "tenant": tenant, "workflow_id": workflow_id,
                  "workflow_name": workflow_name, "requested_by": requested_by,
                  "reason": reason, "dry_run": dry_run, "requested_at": requested_at,
                  "state_before": state_before}
        with self._engine.begin() as conn:
            key = conn.execute(insert(stop_ledger).values(**values)).inserted_primary_key
            assert key is not None  # an autoincrement insert always returns its key
            return int(key[0])

    def finish_stop(
        self, stop_id: int, *, result: str, state_after: str | None, finished_at: datetime,
        detail: str | None = None, state_before: str | None = None,
    ) -> None:
        """Record how a stop ended (and the state before it, if learned only then)."""
        values: dict[str, object] = {"result": result, "state_after": state_after,
                                     "finished_at": finished_at, "detail": detail}
        if state_before is not None:
            values["state_before"] = state_before
        with self._engine.begin() as conn:
            conn.execute(update(stop_ledger).where(stop_ledger.c.id == stop_id).values(**values))

    def stops_since(self, tenant: str, since: datetime) -> int:
        """Distinct runs of the tenant with a real (not dry-run) stop requested since ``since``.

        Distinct, because the sensor's request and the stop job may each write a row for
        the same run; the hourly cap counts runs stopped, not rows.
        """
        c = stop_ledger.c
        stmt = select(func.count(func.distinct(c.workflow_id))).where(
            c.tenant == tenant, c.requested_at >= since, c.dry_run.is_(False))
        with self._engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def stop_requested(self, tenant: str, workflow_id: str) -> bool:
        """True if any stop (or dry-run note) was recorded for this run."""
        return bool(self.stop_requested_ids(tenant, [workflow_id]))

    def stop_requested_ids(self, tenant: str, workflow_ids: Iterable[str]) -> set[str]:
        """Which of these runs already have a stop (or dry-run note) recorded."""
        ids = list(workflow_ids)
        if not ids:
            return set()
        c = stop_ledger.c
        stmt = select(c.workflow_id).where(c.tenant == tenant, c.workflow_id.in_(ids)).distinct()
        with self._engine.connect() as conn:
            return {w for (w,) in conn.execute(stmt)}

    def stop_records(self, tenant: str | None = None, *, limit: int = 50) -> list[StopRecord]:
        """Ledger rows, newest first."""
        stmt = select(stop_ledger).order_by(stop_ledger.c.id.desc()).limit(limit)
        if tenant is not None:
            stmt = stmt.where(stop_ledger.c.tenant == tenant)
        with self._engine.connect() as conn:
            return [StopRecord(**row._mapping) for row in conn.execute(stmt)]
