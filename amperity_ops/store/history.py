"""Run and ingest history, and poll watermarks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select, update

from amperity_ops.client.models import TERMINAL_KINDS, IngestJob, StateKind, WorkflowRun
from amperity_ops.store._sql import upsert
from amperity_ops.store.schema import ingest_feeds, ingest_jobs, watermarks, workflow_runs

__all__ = ["VANISHED", "HistoryMixin", "run_row"]

_TERMINAL = sorted(k.value for k in TERMINAL_KINDS)
VANISHED = "vanished"
"""The store's own ``state_kind`` for a run the API answered 404 for. Not a wire state: the
row keeps the run as last seen (``state_raw``), but it is no longer active, so it is neither
re-read by id on every poll nor evaluated against its SLA. If the API lists the run again,
the next upsert writes its real state back."""
_GONE = [*_TERMINAL, VANISHED]


def run_row(tenant: str, run: WorkflowRun, seen_at: datetime) -> dict[str, Any]:
    """The ``ao_workflow_runs`` row of a run as read at ``seen_at``."""
    return {
        "tenant": tenant, "id": run.id, "name": run.name, "type": run.type,
        "state_raw": run.state.raw, "state_kind": run.state.kind.value,
        "created_at": run.created_at, "ended_at": run.ended_at,
        "warn_after_ms": run.warn_after_ms, "last_seen": seen_at,
        "payload": run.model_dump_json(),
    }


class HistoryMixin:
    """Runs (upsert by tenant and id), ingest jobs with feeds, watermarks per stream."""

    _engine: Engine

    # -- workflow runs ----------------------------------------------------------------------

    def upsert_runs(self, tenant: str, runs: Iterable[WorkflowRun], *, seen_at: datetime) -> int:
        """Insert or update runs (last write wins), remembering when each was last seen.

        Args:
            tenant: The tenant's name.
            runs: Runs as read from the API.
            seen_at: When they were read.

        Returns:
            How many rows were written.
        """
        rows = [
            run_row(tenant, run, seen_at)
            for run in runs
            if run.created_at is not None  # start unknown: not stored until Amperity sends it
        ]
        with self._engine.begin() as conn:
            upsert(conn, workflow_runs, rows, ["tenant", "id"])
        return len(rows)

    def _runs(
        self, *where: ColumnElement[bool], order_by: Sequence[ColumnElement[Any]] = ()
    ) -> list[WorkflowRun]:
        stmt = (select(workflow_runs.c.payload).where(*where)
                .order_by(*(order_by or (workflow_runs.c.created_at,)), workflow_runs.c.id))
        with self._engine.connect() as conn:
            return [WorkflowRun.model_validate_json(p) for (p,) in conn.execute(stmt)]

    def active_runs(self, tenant: str, *, stalest_first: bool = False) -> list[WorkflowRun]:
        """Runs not known to have ended or vanished (active or unrecognised), as last seen.

        Args:
            tenant: The tenant's name.
            stalest_first: Order by when each run was last read, oldest first (a tick that
                cannot re-read them all reaches the others next time), instead of by start.
        """
        c = workflow_runs.c
        order = (c.last_seen, c.created_at) if stalest_first else (c.created_at,)
        return self._runs(c.tenant == tenant, c.state_kind.not_in(_GONE), order_by=order)

    def mark_runs_vanished(self, tenant: str, run_ids: Iterable[str], *, at: datetime) -> int:
        """Record that these runs answered 404: they leave :meth:`active_runs` for good.

        Only rows still held as active are changed (a run that ended keeps its final state).
        A vanished run that the API lists again comes back with its next :meth:`upsert_runs`.

        Args:
            tenant: The tenant's name.
            run_ids: The runs the API no longer knows.
            at: When that was learned (stored as ``last_seen``).

        Returns:
            How many rows were marked.
        """
        ids = sorted(set(run_ids))
        if not ids:
            return 0
        c = workflow_runs.c
        stmt = (update(workflow_runs)
                .where(c.tenant == tenant, c.id.in_(ids), c.state_kind.not_in(_GONE))
                .values(state_kind=VANISHED, last_seen=at))
        with self._engine.begin() as conn:
            return int(conn.execute(stmt).rowcount)

    def vanished_run_ids(self, tenant: str) -> set[str]:
        """Runs of the tenant marked vanished (for inspection and tests)."""
        c = workflow_runs.c
        stmt = select(c.id).where(c.tenant == tenant, c.state_kind == VANISHED)
        with self._engine.connect() as conn:
            return {run_id for (run_id,) in conn.execute(stmt)}

    def get_run(self, tenant: str, run_id: str) -> WorkflowRun | None:
        """One run as last seen, or None."""
        found = self._runs(workflow_runs.c.tenant == tenant, workflow_runs.c.id == run_id)
        return found[0] if found else None

    def runs_since(self, tenant: str, since: datetime) -> list[WorkflowRun]:
        """Runs created or ended since ``since``, plus every run still active (oldest first).

        Vanished runs are left out: Amperity no longer knows them, so they are not counted.
        """
        c = workflow_runs.c
        return self._runs(c.tenant == tenant, c.state_kind != VANISHED,
                          or_(c.created_at >= since, c.ended_at >= since,
                              c.state_kind.not_in(_GONE)))

    def runs_ended_since(self, tenant: str, since: datetime) -> list[WorkflowRun]:
        """Runs that ended at or after ``since`` (any final state), in the order they ended."""
        c = workflow_runs.c
        return self._runs(c.tenant == tenant, c.ended_at.is_not(None), c.ended_at >= since,
                          c.state_kind != VANISHED, order_by=(c.ended_at,))

    def latest_finished_runs(self, tenant: str, names: Iterable[str]) -> dict[str, WorkflowRun]:
        """The run of each workflow name that ended last (names that never ended are absent)."""
        c = workflow_runs.c
        wanted = sorted(set(names))
        if not wanted:
            return {}
        last = (select(c.name, func.max(c.ended_at).label("ended"))
                .where(c.tenant == tenant, c.name.in_(wanted), c.ended_at.is_not(None),
                       c.state_kind != VANISHED)
                .group_by(c.name).subquery())
        stmt = (select(workflow_runs.c.payload)
                .join(last, and_(c.name == last.c.name, c.ended_at == last.c.ended))
                .where(c.tenant == tenant).order_by(c.id))
        with self._engine.connect() as conn:
            found = [WorkflowRun.model_validate_json(p) for (p,) in conn.execute(stmt)]
        return {run.name: run for run in found}

    def count_runs(self, tenant: str) -> int:
        """How many runs of the tenant the store holds."""
        stmt = select(func.count()).select_from(workflow_runs).where(
            workflow_runs.c.tenant == tenant)
        with self._engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def successful_runtimes(
        self, tenant: str, names: Iterable[str], *, limit: int = 50
    ) -> dict[str, list[float]]:
        """Runtimes (seconds, newest first) of each workflow's recent successful runs.

        Args:
            tenant: The tenant's name.
            names: Workflow names to look up.
            limit: At most this many runs per name.

        Returns:
            Name to runtimes; names without a success are absent.
        """
        c = workflow_runs.c
        result: dict[str, list[float]] = {}
        with self._engine.connect() as conn:
            for name in sorted(set(names)):
                stmt = (
                    select(c.created_at, c.ended_at)
                    .where(c.tenant == tenant, c.name == name,
                           c.state_kind == StateKind.SUCCEEDED.value, c.ended_at.is_not(None))
                    .order_by(c.ended_at.desc())
                    .limit(limit)
                )
                values = [(end - start).total_seconds() for start, end in conn.execute(stmt)]
                if values:
                    result[name] = values
        return result

    # -- watermarks -------------------------------------------------------------------------

    def get_watermark(self, tenant: str, stream: str) -> datetime | None:
        """The watermark of a poll stream (e.g. ``workflow_runs``), or None before the first."""
        stmt = select(watermarks.c.value).where(
            and_(watermarks.c.tenant == tenant, watermarks.c.stream == stream))
        with self._engine.connect() as conn:
            return conn.execute(stmt).scalar_one_or_none()

    def set_watermark(self, tenant: str, stream: str, value: datetime, *,
                      now: datetime | None = None) -> None:
        """Set a stream's watermark (callers only move it forward)."""
        row = {"tenant": tenant, "stream": stream, "value": value, "updated_at": now or value}
        with self._engine.begin() as conn:
            upsert(conn, watermarks, [row], ["tenant", "stream"])

    # -- ingest jobs ------------------------------------------------------------------------

    def upsert_ingest_jobs(self, tenant: str, jobs: Iterable[IngestJob], *,
                           seen_at: datetime) -> int:
        """Insert or update ingest jobs and their feeds.

        A job's ``created_at`` is its earliest feed start (``seen_at`` if no feed has started);
        its ``ended_at`` is the latest feed end once every feed has ended.

        Returns:
            How many jobs were written.
        """
        job_rows: list[dict[str, object]] = []
        feed_rows: list[dict[str, object]] = []
        for job in jobs:
            starts = [f.started_at for f in job.tables if f.started_at is not None]
            ends = [f.ended_at for f in job.tables]
            done = bool(ends) and all(e is not None for e in ends)
            job_rows.append({
                "tenant": tenant, "id": job.id, "workflow_id": job.workflow_id,
                "created_at": min(starts) if starts else seen_at,
                "ended_at": max(e for e in ends if e is not None) if done else None,
                "last_seen": seen_at, "payload": job.model_dump_json(),
            })
            feed_rows.extend({
                "tenant": tenant, "job_id": job.id, "feed_id": f.feed_id,
                "table_name": f.table_name, "state_raw": f.state.raw,
                "state_kind": f.state.kind.value, "read": f.read, "errors": f.errors,
                "rejected": f.rejected, "inserted": f.inserted, "updated": f.updated,
                "started_at": f.started_at, "ended_at": f.ended_at,
            } for f in job.tables)
        with self._engine.begin() as conn:
            upsert(conn, ingest_jobs, job_rows, ["tenant", "id"])
            upsert(conn, ingest_feeds, feed_rows, ["tenant", "job_id", "feed_id"])
        return len(job_rows)

    def ingest_jobs_since(self, tenant: str, since: datetime) -> list[IngestJob]:
        """Ingest jobs (with feeds) created or ended since ``since``, oldest first."""
        c = ingest_jobs.c
        stmt = (select(c.payload)
                .where(c.tenant == tenant, or_(c.created_at >= since, c.ended_at >= since,
                                               c.ended_at.is_(None)))
                .order_by(c.created_at))
        with self._engine.connect() as conn:
            return [IngestJob.model_validate_json(p) for (p,) in conn.execute(stmt)]

    def feed_totals(self, tenant: str, job_ids: Sequence[str]) -> dict[str, tuple[int, int, int]]:
        """(read, errors, rejected) summed over the feeds of each job."""
        c = ingest_feeds.c
        stmt = (select(c.job_id, func.sum(c.read), func.sum(c.errors), func.sum(c.rejected))
                .where(c.tenant == tenant, c.job_id.in_(list(job_ids)))
                .group_by(c.job_id))
        with self._engine.connect() as conn:
            return {j: (int(r), int(e), int(x)) for j, r, e, x in conn.execute(stmt)}
