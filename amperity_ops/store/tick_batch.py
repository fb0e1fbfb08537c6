"""The SLA tick's store work for many tenants at once: a query or a transaction per kind.

One tick over 1,000 tenants asked the store about each tenant in turn (active runs, open
alert tracks, the ledger's answers, then the writes): thousands of round trips. These methods
answer the same questions for every tenant at once (``tenant IN (...)``, in chunks) and write
every tenant's changes in one transaction per table, so the tick's store time grows with the
rows it touches, not with the number of tenants times the number of questions.

Each method returns exactly what its one-tenant counterpart returns, keyed by tenant; the
one-tenant methods stay for the stop job, the CLI and the poll.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, String, bindparam, func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY

from amperity_ops.client.models import TERMINAL_KINDS, StateKind, WorkflowRun
from amperity_ops.core import AlertLevel, AlertTrack, NewStop, Requester
from amperity_ops.store._sql import upsert
from amperity_ops.store.history import VANISHED, run_row
from amperity_ops.store.schema import alert_state, stop_ledger, workflow_runs
from amperity_ops.store.stop_ledger import StopRecord, record_from_row, table_row

__all__ = ["TickBatchMixin"]

_CHUNK = 500
"""Tenants (or (tenant, id) pairs) per ``IN (...)``: well under SQLite's variable limit."""
_STILL_ACTIVE = sorted(k.value for k in StateKind if k not in TERMINAL_KINDS)
"""``state_kind`` values of runs not ended and not vanished, listed rather than excluded, so
the ``(tenant, state_kind)`` index is used as point lookups however long the history."""
_OPEN_LEVELS = sorted(lvl.value for lvl in (AlertLevel.WARNING, AlertLevel.BREACHED))
"""Levels of an open run alert track (every other track is resolved)."""

K = TypeVar("K")


def _chunks(items: Sequence[K]) -> Iterator[list[K]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start:start + _CHUNK])


def _pairs(ids_by_tenant: Mapping[str, Iterable[str]]) -> list[tuple[str, str]]:
    return sorted({(tenant, i) for tenant, ids in ids_by_tenant.items() for i in ids})


def _either(chunk: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """The tenants and the ids of some (tenant, id) pairs, for ``tenant IN .. AND id IN ..``.

    Two plain ``IN`` lists use the ``(tenant, workflow_id)`` index on both databases; a row
    value ``IN`` of 500 pairs is planned as 500 ORs by Postgres (slow). The superset this
    selects is narrowed to the pairs in Python.
    """
    return sorted({t for t, _ in chunk}), sorted({i for _, i in chunk})


def _touch_last_seen(conn: Connection, pairs: Sequence[tuple[str, str]], at: datetime) -> int:
    """``last_seen = at`` for these (tenant, id) rows: one statement on Postgres.

    Postgres joins the rows to two arrays (``UPDATE .. FROM unnest(..)``): one statement and
    one plan whatever the count, where ``(tenant, id) IN (...)`` of 500 pairs is planned as
    500 ORs. SQLite runs in-process, so its executemany of one keyed UPDATE per row costs no
    round trips (and SQLite has no arrays).
    """
    c = workflow_runs.c
    if conn.dialect.name == "postgresql":
        tenants = func.unnest(bindparam("tenants", [t for t, _ in pairs], type_=ARRAY(String)))
        ids = func.unnest(bindparam("ids", [i for _, i in pairs], type_=ARRAY(String)))
        seen = select(tenants.label("tenant"), ids.label("id")).subquery("seen")
        stmt = (update(workflow_runs)
                .where(c.tenant == seen.c.tenant, c.id == seen.c.id)
                .values(last_seen=at))
        return int(conn.execute(stmt).rowcount)
    stmt = (update(workflow_runs)
            .where(c.tenant == bindparam("t"), c.id == bindparam("i"))
            .values(last_seen=at))
    return int(conn.execute(stmt, [{"t": t, "i": i} for t, i in pairs]).rowcount)


class TickBatchMixin:
    """Multi-tenant reads and writes of one SLA tick (see the module docstring)."""

    _engine: Engine

    # -- reads before the API is asked --------------------------------------------------------

    def active_runs_by_tenant(self, tenants: Sequence[str]) -> dict[str, list[WorkflowRun]]:
        """Each tenant's runs not known to have ended or vanished, stalest first.

        The batched ``active_runs(tenant, stalest_first=True)``: ordered by when each run was
        last read, then by start, then by id.
        """
        c = workflow_runs.c
        found: dict[str, list[WorkflowRun]] = {t: [] for t in tenants}
        with self._engine.connect() as conn:
            for chunk in _chunks(sorted(set(tenants))):
                stmt = (select(c.tenant, c.payload)
                        .where(c.tenant.in_(chunk), c.state_kind.in_(_STILL_ACTIVE))
                        .order_by(c.tenant, c.last_seen, c.created_at, c.id))
                for tenant, payload in conn.execute(stmt):
                    found[tenant].append(WorkflowRun.model_validate_json(payload))
        return found

    def open_alert_tracks_by_tenant(
        self, tenants: Sequence[str]
    ) -> dict[str, dict[str, AlertTrack]]:
        """Each tenant's run alert tracks not yet resolved, by run id (one query)."""
        c = alert_state.c
        found: dict[str, dict[str, AlertTrack]] = {t: {} for t in tenants}
        with self._engine.connect() as conn:
            for chunk in _chunks(sorted(set(tenants))):
                stmt = select(c.tenant, c.subject, c.level, c.last_sent, c.workflow_name).where(
                    c.tenant.in_(chunk), c.kind == "run", c.level.in_(_OPEN_LEVELS))
                for tenant, subject, level, sent, name in conn.execute(stmt):
                    found[tenant][subject] = AlertTrack(
                        AlertLevel(level), AlertLevel(sent) if sent else None, name)
        return found

    # -- writes of what was read ------------------------------------------------------------

    def upsert_runs_by_tenant(
        self, runs: Mapping[str, Iterable[WorkflowRun]], *, seen_at: datetime
    ) -> int:
        """Every tenant's runs as read, in one transaction (see ``upsert_runs``).

        Returns:
            How many rows were written.
        """
        rows = [run_row(tenant, run, seen_at) for tenant, found in runs.items()
                for run in found if run.created_at is not None]
        with self._engine.begin() as conn:
            upsert(conn, workflow_runs, rows, ["tenant", "id"])
        return len(rows)

    def mark_runs_seen_by_tenant(
        self, run_ids: Mapping[str, Iterable[str]], *, seen_at: datetime
    ) -> int:
        """Set ``last_seen`` of runs read again unchanged, for every tenant, in one statement.

        The tick used to upsert every running run each tick only to move ``last_seen`` (what
        "stalest first" orders by): rewriting the whole row, payload and indexes included, of
        5,000 runs was most of its store time. A run equal to its stored self only needs this.

        Returns:
            How many rows were updated.
        """
        pairs = _pairs(run_ids)
        if not pairs:
            return 0
        with self._engine.begin() as conn:
            return _touch_last_seen(conn, pairs, seen_at)

    def mark_runs_vanished_by_tenant(
        self, run_ids: Mapping[str, Iterable[str]], *, at: datetime
    ) -> int:
        """``mark_runs_vanished`` for every tenant, in one transaction."""
        c = workflow_runs.c
        marked = 0
        pairs = _pairs(run_ids)
        if not pairs:
            return 0
        with self._engine.begin() as conn:
            for chunk in _chunks(pairs):
                stmt = (update(workflow_runs)
                        .where(tuple_(c.tenant, c.id).in_(chunk),
                               c.state_kind.in_(_STILL_ACTIVE))
                        .values(state_kind=VANISHED, last_seen=at))
                marked += int(conn.execute(stmt).rowcount)
        return marked

    # -- reads the plans need ---------------------------------------------------------------

    def successful_runtimes_by_tenant(
        self, names: Mapping[str, Iterable[str]], *, limit: int = 50
    ) -> dict[str, dict[str, list[float]]]:
        """``successful_runtimes`` for every tenant's workflow names, in one query per chunk.

        A window function keeps the ``limit`` newest successes of each (tenant, name).
        """
        pairs = _pairs(names)
        found: dict[str, dict[str, list[float]]] = {t: {} for t in names}
        if not pairs:
            return found
        c = workflow_runs.c
        rank = func.row_number().over(
            partition_by=(c.tenant, c.name), order_by=c.ended_at.desc()).label("rank")
        with self._engine.connect() as conn:
            for chunk in _chunks(pairs):
                inner = (select(c.tenant, c.name, c.created_at, c.ended_at, rank)
                         .where(tuple_(c.tenant, c.name).in_(chunk),
                                c.state_kind == StateKind.SUCCEEDED.value,
                                c.ended_at.is_not(None))
                         .subquery())
                stmt = (select(inner.c.tenant, inner.c.name, inner.c.created_at,
                               inner.c.ended_at)
                        .where(inner.c.rank <= limit)
                        .order_by(inner.c.tenant, inner.c.name, inner.c.rank))
                for tenant, name, start, end in conn.execute(stmt):
                    found[tenant].setdefault(name, []).append((end - start).total_seconds())
        return found

    def stops_since_by_tenant(self, tenants: Sequence[str], since: datetime) -> dict[str, int]:
        """``stops_since`` for every tenant (distinct runs with a real stop since ``since``)."""
        c = stop_ledger.c
        found = dict.fromkeys(tenants, 0)
        with self._engine.connect() as conn:
            for chunk in _chunks(sorted(set(tenants))):
                stmt = (select(c.tenant, func.count(func.distinct(c.workflow_id)))
                        .where(c.tenant.in_(chunk), c.requested_at >= since,
                               c.dry_run.is_(False))
                        .group_by(c.tenant))
                for tenant, count in conn.execute(stmt):
                    found[tenant] = int(count)
        return found

    def ledger_ids_by_tenant(
        self, ids: Mapping[str, Iterable[str]], *, dry_run: bool,
        requester: Requester | None = None,
    ) -> dict[str, set[str]]:
        """``stop_requested_ids`` (``dry_run=False``) or ``dry_run_noted_ids`` for every tenant."""
        found: dict[str, set[str]] = {t: set() for t in ids}
        c = stop_ledger.c
        columns = (c.tenant, c.workflow_id, c.requester_kind, c.requester_name, c.requested_by)
        for tenant, workflow_id, kind, name, label in self._ledger_rows_of_runs(
                ids, columns, dry_run=dry_run, distinct=True):
            if requester is None or requester.same_as(Requester.from_columns(kind, name, label)):
                found[tenant].add(workflow_id)
        return found

    def latest_real_stops_by_tenant(
        self, ids: Mapping[str, Iterable[str]]
    ) -> dict[str, dict[str, StopRecord]]:
        """``latest_real_stops`` for every tenant: the newest real ledger row of each run."""
        found: dict[str, dict[str, StopRecord]] = {t: {} for t in ids}
        for row in self._ledger_rows_of_runs(ids, (stop_ledger,), dry_run=False):
            record = record_from_row(row)
            found[record.tenant][record.workflow_id] = record  # ascending ids: the newest wins
        return found

    def _ledger_rows_of_runs(
        self, ids: Mapping[str, Iterable[str]], columns: Sequence[Any], *, dry_run: bool,
        distinct: bool = False,
    ) -> Iterator[Any]:
        """Ledger rows (``columns``) of these runs of these tenants, oldest first, in chunks.

        A chunk asks for its tenants x its run ids; rows of other (tenant, run) pairs that the
        cross product lets through are dropped here.
        """
        pairs = _pairs(ids)
        c = stop_ledger.c
        with self._engine.connect() as conn:
            for chunk in _chunks(pairs):
                tenants, run_ids = _either(chunk)
                wanted = set(chunk)
                stmt = select(*columns).where(c.tenant.in_(tenants), c.workflow_id.in_(run_ids),
                                              c.dry_run.is_(dry_run))
                stmt = stmt.distinct() if distinct else stmt.order_by(c.id)
                for row in conn.execute(stmt):
                    if (row.tenant, row.workflow_id) in wanted:
                        yield row

    def open_stop_ids_by_tenant(
        self, tenants: Sequence[str], *, requester: Requester
    ) -> dict[str, set[str]]:
        """``open_stop_ids`` for every tenant, in one query per chunk (tenants without: absent)."""
        c = stop_ledger.c
        found: dict[str, set[str]] = defaultdict(set)
        with self._engine.connect() as conn:
            for chunk in _chunks(sorted(set(tenants))):
                stmt = (select(c.tenant, c.workflow_id, c.requester_kind, c.requester_name,
                               c.requested_by).distinct()
                        .where(c.tenant.in_(chunk), c.dry_run.is_(False), c.result.is_(None)))
                for tenant, workflow_id, kind, name, label in conn.execute(stmt):
                    if requester.same_as(Requester.from_columns(kind, name, label)):
                        found[tenant].add(workflow_id)
        return dict(found)

    def stop_attempts_by_tenant(
        self, ids: Mapping[str, Iterable[str]], *, requester: Requester
    ) -> dict[str, list[StopRecord]]:
        """``stop_attempts`` for every tenant: each real row by ``requester``, oldest first."""
        found: dict[str, list[StopRecord]] = {t: [] for t in ids}
        pairs = _pairs(ids)
        if not pairs:
            return found
        c = stop_ledger.c
        with self._engine.connect() as conn:
            for chunk in _chunks(pairs):
                tenants, run_ids = _either(chunk)
                wanted = set(chunk)
                stmt = (select(stop_ledger)
                        .where(c.tenant.in_(tenants), c.workflow_id.in_(run_ids),
                               c.dry_run.is_(False))
                        .order_by(c.id))
                for row in conn.execute(stmt):
                    record = record_from_row(row)
                    if ((record.tenant, record.workflow_id) in wanted
                            and requester.same_as(record.requester)):
                        found[record.tenant].append(record)
        return found

    def unlaunched_stops_by_tenant(
        self, tenants: Sequence[str], *, requester: Requester, before: datetime
    ) -> dict[str, list[StopRecord]]:
        """``unlaunched_stops`` for every tenant, in one query (tenants without any: absent).

        Uses the partial index of unfinished rows (``ao_stops_unfinished``): the ledger keeps
        every stop ever made, the unfinished ones are few.
        """
        c = stop_ledger.c
        wanted = set(tenants)
        stmt = (select(stop_ledger)
                .where(c.result.is_(None), c.dry_run.is_(False), c.detail.is_(None),
                       c.requested_at <= before)
                .order_by(c.id))
        found: dict[str, list[StopRecord]] = defaultdict(list)
        with self._engine.connect() as conn:
            for row in conn.execute(stmt):
                record = record_from_row(row)
                if record.tenant in wanted and requester.same_as(record.requester):
                    found[record.tenant].append(record)
        return dict(found)

    # -- writes of the plans ----------------------------------------------------------------

    def save_alert_tracks_by_tenant(
        self, updates: Mapping[str, Mapping[str, AlertTrack]], *, now: datetime
    ) -> None:
        """``save_alert_tracks`` for every tenant, in one transaction (resolved stays final)."""
        rows: list[dict[str, Any]] = [
            {"tenant": tenant, "subject": run_id, "kind": "run", "level": t.level.value,
             "last_sent": t.last_sent.value if t.last_sent else None,
             "workflow_name": t.workflow_name, "updated_at": now}
            for tenant, tracks in updates.items() for run_id, t in tracks.items()
        ]
        if not rows:
            return
        with self._engine.begin() as conn:
            upsert(conn, alert_state, rows, ["tenant", "subject"],
                   where=alert_state.c.level != AlertLevel.RESOLVED.value)

    def record_stops_batch(self, stops: Sequence[NewStop]) -> int:
        """``record_stops`` in one statement, without the row ids the tick does not need.

        (Asking for the ids in order makes SQLite insert the rows one statement at a time.)

        Returns:
            How many rows were added.
        """
        if not stops:
            return 0
        with self._engine.begin() as conn:
            conn.execute(insert(stop_ledger), [table_row(stop) for stop in stops])
        return len(stops)
