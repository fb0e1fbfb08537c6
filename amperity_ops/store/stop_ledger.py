"""The stop ledger: every stop requested (or dry-run noted), by whom, why, and how it went.

Two kinds of rows, kept apart by every question the guard rails ask:

* a **real** request (``dry_run`` false): the sensor's or a person's. It counts towards the
  hourly cap and means "this run's stop was already requested" (never ask twice);
* a **dry-run note**: what would have been stopped. It never counts as a request, so turning
  dry run off later still stops the run; it only keeps the sensor from repeating its note.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Engine, bindparam, func, insert, select, update

from amperity_ops.core import NewStop, Requester, StopResult
from amperity_ops.store.schema import stop_ledger

__all__ = ["NewStop", "StopLedgerMixin", "StopRecord", "record_from_row", "table_row"]

_CHUNK = 500
"""Ids per ``IN (...)`` query: a tick may ask about thousands of runs."""


def table_row(stop: NewStop) -> dict[str, object]:
    """The table row: the requester's kind and name beside its label."""
    values = asdict(stop)
    del values["requester"]
    who = stop.requester or Requester.from_text(stop.requested_by)
    values["requester_kind"], values["requester_name"] = who.kind.value, who.name
    values["result"] = stop.result.value if stop.result is not None else None
    return values


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
    result: StopResult | None
    """E.g. ``stopped``, ``not_running``, ``vanished``, ``timeout``, ``dry_run``; None while
    the stop is in flight."""
    finished_at: datetime | None
    detail: str | None
    requester: Requester
    """Who asked, typed (rows older than the requester columns: read from ``requested_by``)."""
    launched_as: str | None = None
    """The batch run's key when the stop went in a batch (many in one tick); else None."""

    @property
    def dagster_run_key(self) -> str:
        """The run key of the Dagster run that carries this stop (its own, or its batch's)."""
        return self.launched_as or self.run_key


def record_from_row(row: object) -> StopRecord:
    """A :class:`StopRecord` from an ``ao_stop_ledger`` row."""
    values = dict(row._mapping)  # type: ignore[attr-defined]
    kind, name = values.pop("requester_kind"), values.pop("requester_name")
    result = values.pop("result")
    return StopRecord(
        **values, result=None if result is None else StopResult(result),
        requester=Requester.from_columns(kind, name, values["requested_by"]))


class StopLedgerMixin:
    """Record stops and answer the guard rails' questions (how many lately? this run already?)."""

    _engine: Engine

    def record_stop(
        self, *, run_key: str, tenant: str, workflow_id: str, requested_by: str, reason: str,
        dry_run: bool, requested_at: datetime, workflow_name: str = "",
        state_before: str | None = None, requester: Requester | None = None,
    ) -> int:
        """Add a ledger row when a stop is requested (or noted in dry run).

        ``requested_by`` is the label people read; ``requester`` the typed value rows are
        matched by (None: read from the label).

        Returns:
            The row id, for :meth:`finish_stop`.
        """
        [stop_id] = self.record_stops([NewStop(
            run_key=run_key, tenant=tenant, workflow_id=workflow_id, requested_by=requested_by,
            reason=reason, dry_run=dry_run, requested_at=requested_at,
            workflow_name=workflow_name, state_before=state_before, requester=requester)])
        return stop_id

    def record_stops(self, stops: Sequence[NewStop]) -> list[int]:
        """Add several ledger rows in one transaction (a tick that requests many stops).

        Returns:
            The row ids, in the order of ``stops``.
        """
        if not stops:
            return []
        rows = [table_row(stop) for stop in stops]
        stmt = insert(stop_ledger).returning(stop_ledger.c.id, sort_by_parameter_order=True)
        with self._engine.begin() as conn:
            return [int(i) for (i,) in conn.execute(stmt, rows)]

    def finish_stop(
        self, stop_id: int, *, result: StopResult | str, state_after: str | None,
        finished_at: datetime, detail: str | None = None, state_before: str | None = None,
    ) -> None:
        """Record how a stop ended (and the state before it, if learned only then)."""
        values: dict[str, object] = {"result": StopResult(result).value,
                                     "state_after": state_after,
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
        """True if a real stop (not a dry-run note) was ever recorded for this run."""
        return bool(self.stop_requested_ids(tenant, [workflow_id]))

    def stop_requested_ids(self, tenant: str, workflow_ids: Iterable[str]) -> set[str]:
        """Which of these runs had a real stop requested (dry-run notes do not count)."""
        return self._ledger_ids(tenant, workflow_ids, dry_run=False)

    def dry_run_noted_ids(
        self, tenant: str, workflow_ids: Iterable[str], *, requester: Requester | None = None
    ) -> set[str]:
        """Which of these runs have a dry-run note ("would have stopped") recorded.

        Args:
            tenant: The tenant's name.
            workflow_ids: The runs to ask about.
            requester: Only notes by this requester (the sensor asks about its own notes,
                so a person's dry run from the Launchpad does not silence the sensor's).
        """
        return self._ledger_ids(tenant, workflow_ids, dry_run=True, requester=requester)

    def _ledger_ids(
        self, tenant: str, workflow_ids: Iterable[str], *, dry_run: bool,
        requester: Requester | None = None,
    ) -> set[str]:
        ids = sorted(set(workflow_ids))
        if not ids:
            return set()
        c = stop_ledger.c
        found: set[str] = set()
        with self._engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                stmt = select(c.workflow_id, c.requester_kind, c.requester_name,
                              c.requested_by).distinct().where(
                    c.tenant == tenant, c.workflow_id.in_(ids[start:start + _CHUNK]),
                    c.dry_run.is_(dry_run))
                found.update(
                    w for w, kind, name, label in conn.execute(stmt)
                    if requester is None
                    or requester.same_as(Requester.from_columns(kind, name, label)))
        return found

    def pending_stop_id(
        self, tenant: str, workflow_id: str, *, requester: Requester
    ) -> int | None:
        """The newest unfinished real request for this run by this requester, if any.

        The SLA sensor records its request before Dagster launches the stop job; the job
        finishes that row instead of adding a second one for the same request. Matched by
        value (:meth:`Requester.same_as`): any sensor's row is the sensor's, whatever its name.
        """
        c = stop_ledger.c
        stmt = (select(stop_ledger)
                .where(c.tenant == tenant, c.workflow_id == workflow_id,
                       c.dry_run.is_(False), c.result.is_(None))
                .order_by(c.id.desc()))
        with self._engine.connect() as conn:
            for row in conn.execute(stmt):
                record = record_from_row(row)
                if requester.same_as(record.requester):
                    return record.id
        return None

    def unlaunched_stops(
        self, tenant: str, *, requester: Requester, before: datetime
    ) -> list[StopRecord]:
        """Real requests by ``requester``, unfinished, made before ``before``, never re-sent.

        The SLA sensor records a stop before Dagster launches the job; if that tick's result was
        lost (a tick over Dagster's time limit, a daemon crash) no job ever finishes the row.
        These are the candidates to request once more (Dagster skips a run key it has seen).
        """
        c = stop_ledger.c
        stmt = (select(stop_ledger)
                .where(c.tenant == tenant,
                       c.dry_run.is_(False), c.result.is_(None), c.detail.is_(None),
                       c.requested_at <= before)
                .order_by(c.id))
        with self._engine.connect() as conn:
            records = [record_from_row(row) for row in conn.execute(stmt)]
        return [r for r in records if requester.same_as(r.requester)]

    def mark_stops_rerequested(self, stop_ids: Sequence[int], *, at: datetime) -> None:
        """Note on unfinished rows that their stop was requested once more (never again).

        The batch the row was in never became a run, so it no longer carries the stop; the
        sensor names the new carrier (a run of its own, or a batch again) right after.
        """
        if not stop_ids:
            return
        c = stop_ledger.c
        with self._engine.begin() as conn:
            conn.execute(update(stop_ledger).where(c.id.in_(list(stop_ids)))
                         .values(detail=f"requested again at {at.isoformat()}: no job had "
                                        "finished it", launched_as=None))

    def mark_stops_launched_as(
        self, tenant_run_keys: Sequence[tuple[str, str]], batch_key: str
    ) -> None:
        """Note on the unfinished rows of these (tenant, run key)s that a batch carries them.

        Called by the SLA sensor before it returns the batch's RunRequest, so a lost batch is
        found (no Dagster run under ``batch_key``) and a failed one completes its rows.
        """
        if not tenant_run_keys:
            return
        c = stop_ledger.c
        stmt = (update(stop_ledger)
                .where(c.tenant == bindparam("b_tenant"), c.run_key == bindparam("b_key"),
                       c.result.is_(None))
                .values(launched_as=batch_key))
        with self._engine.begin() as conn:  # one statement, executed for every row
            conn.execute(stmt, [{"b_tenant": t, "b_key": k} for t, k in tenant_run_keys])

    def stop_attempts(
        self, tenant: str, workflow_ids: Iterable[str], *, requester: Requester
    ) -> list[StopRecord]:
        """Every real ledger row by ``requester`` for these runs (each attempt), oldest first.

        The SLA tick reads its own attempts to complete rows whose stop job died and to decide
        whether to try once more (``monitoring.stop_retry``).
        """
        return [r for r in self._real_records(tenant, workflow_ids)
                if requester.same_as(r.requester)]

    def _real_records(self, tenant: str, workflow_ids: Iterable[str]) -> list[StopRecord]:
        """Every real (not dry-run) ledger row of these runs, oldest first."""
        ids = sorted(set(workflow_ids))
        c = stop_ledger.c
        rows: list[StopRecord] = []
        with self._engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                stmt = (select(stop_ledger)
                        .where(c.tenant == tenant, c.workflow_id.in_(ids[start:start + _CHUNK]),
                               c.dry_run.is_(False))
                        .order_by(c.id))
                rows += [record_from_row(row) for row in conn.execute(stmt)]
        return rows

    def open_stop_ids(self, tenant: str, *, requester: Requester) -> set[str]:
        """Runs with a real request by ``requester`` that has no result yet (any age).

        The SLA tick completes these once their stop job is over, whether or not the run is
        still observed (a run that ended meanwhile still gets its row completed).
        """
        c = stop_ledger.c
        stmt = (select(c.workflow_id, c.requester_kind, c.requester_name, c.requested_by)
                .distinct().where(c.tenant == tenant, c.dry_run.is_(False), c.result.is_(None)))
        with self._engine.connect() as conn:
            return {w for w, kind, name, label in conn.execute(stmt)
                    if requester.same_as(Requester.from_columns(kind, name, label))}

    def latest_real_stops(self, tenant: str, workflow_ids: Iterable[str]) -> dict[str, StopRecord]:
        """The newest real (not dry-run) ledger row of each of these runs that has one.

        The SLA tick asks this about the alerted runs that just ended, so the RESOLVED alert
        can say amperity-ops stopped the run, who asked and why.
        """
        # Ascending ids: the newest row of each run wins.
        return {record.workflow_id: record for record in self._real_records(tenant, workflow_ids)}

    def stop_records_since(
        self, since: datetime, *, tenants: Iterable[str] | None = None, limit: int = 200
    ) -> list[StopRecord]:
        """Ledger rows (real stops and dry-run notes) requested since ``since``, newest first.

        Args:
            since: The earliest ``requested_at``.
            tenants: Only these tenants (None: every tenant).
            limit: At most this many rows (the asset shows a table, not an archive).
        """
        c = stop_ledger.c
        stmt = (select(stop_ledger).where(c.requested_at >= since)
                .order_by(c.requested_at.desc(), c.id.desc()).limit(limit))
        if tenants is not None:
            stmt = stmt.where(c.tenant.in_(sorted(set(tenants))))
        with self._engine.connect() as conn:
            return [record_from_row(row) for row in conn.execute(stmt)]

    def stop_records(self, tenant: str | None = None, *, limit: int = 50) -> list[StopRecord]:
        """Ledger rows, newest first."""
        stmt = select(stop_ledger).order_by(stop_ledger.c.id.desc()).limit(limit)
        if tenant is not None:
            stmt = stmt.where(stop_ledger.c.tenant == tenant)
        with self._engine.connect() as conn:
            return [record_from_row(row) for row in conn.execute(stmt)]
