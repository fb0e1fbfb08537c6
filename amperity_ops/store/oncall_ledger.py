"""Silences, routed outbox entries and the facts of the daily digest.

Routed entries use the same outbox as every alert (one row per dedup key, level and sink,
ever), with two additions: an entry may be recorded ``silenced`` (never sent), and it may be
due later (quiet hours). A held entry that a later, more urgent one for the same sink and key
overtakes (a breach page in quiet hours after a held warning) is marked ``superseded``, so the
outbox's in-order rule does not keep the page waiting behind it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, or_, select, update

from amperity_ops.core import AlertLevel, AlertMessage
from amperity_ops.core.oncall import OutboxEntry, Silence
from amperity_ops.store._sql import insert_ignore
from amperity_ops.store.schema import alert_outbox, silences, stop_ledger, workflow_runs

__all__ = ["OncallLedgerMixin"]

_CLAIM_MARGIN = timedelta(minutes=5)
"""A held row is only superseded when due this much later than the newer one: a row a
deliverer has just claimed (due again after its 2-minute lease) is never touched."""


def _silence(row: object) -> Silence:
    r = row._mapping  # type: ignore[attr-defined]
    return Silence(
        id=r["id"], run_id=r["run_id"], workflow=r["workflow"], tenant=r["tenant"],
        reason=r["reason"], requested_by=r["requested_by"], created_at=r["created_at"],
        until=r["until"], hold_stops=bool(r["hold_stops"]), lifted_at=r["lifted_at"],
        lifted_by=r["lifted_by"],
    )


class OncallLedgerMixin:
    """Silences, routed enqueueing, and what the digest reports."""

    _engine: Engine
    # From AlertLedgerMixin (the Store has both): the keys already resolved are final.
    _resolved_keys: Callable[[Iterable[AlertMessage]], set[str]]

    # -- silences ---------------------------------------------------------------------------

    def add_silence(
        self, *, run_id: str | None, workflow: str | None, tenant: str | None, reason: str,
        requested_by: str, hold_stops: bool, now: datetime, until: datetime,
    ) -> Silence:
        """Record a silence and return it (with its id)."""
        values = {"run_id": run_id, "workflow": workflow, "tenant": tenant, "reason": reason,
                  "requested_by": requested_by, "hold_stops": hold_stops, "created_at": now,
                  "until": until}
        with self._engine.begin() as conn:
            new_id = conn.execute(silences.insert().values(**values)
                                  .returning(silences.c.id)).scalar_one()
            row = conn.execute(select(silences).where(silences.c.id == new_id)).one()
        return _silence(row)

    def lift_silence(self, silence_id: int, *, by: str, now: datetime) -> Silence | None:
        """End a silence now; None when there is no such silence. Lifting twice keeps the first."""
        c = silences.c
        with self._engine.begin() as conn:
            conn.execute(update(silences).where(c.id == silence_id, c.lifted_at.is_(None))
                         .values(lifted_at=now, lifted_by=by))
            row = conn.execute(select(silences).where(c.id == silence_id)).one_or_none()
        return None if row is None else _silence(row)

    def active_silences(self, now: datetime) -> list[Silence]:
        """Silences holding at ``now`` (not expired, not lifted), oldest first."""
        c = silences.c
        stmt = (select(silences).where(c.lifted_at.is_(None), c.created_at <= now, c.until > now)
                .order_by(c.id))
        with self._engine.connect() as conn:
            return [_silence(r) for r in conn.execute(stmt)]

    def silences_since(self, since: datetime) -> list[Silence]:
        """Every silence active at ``since`` or created after it, newest first (for listing)."""
        c = silences.c
        stmt = (select(silences).where(or_(c.until > since, c.created_at >= since))
                .order_by(c.id.desc()))
        with self._engine.connect() as conn:
            return [_silence(r) for r in conn.execute(stmt)]

    # -- routed outbox ----------------------------------------------------------------------

    def enqueue_entries(self, entries: Iterable[OutboxEntry], *, now: datetime) -> int:
        """Queue routed entries, once ever per (dedup key, level, sink), like ``enqueue_alerts``.

        Nothing but a resolve is queued under a key already resolved. A pending entry due
        earlier than an older, untried, held one for the same sink and key supersedes it.

        Returns:
            How many new outbox rows were added.
        """
        entries = list(entries)
        c = alert_outbox.c
        closed = self._resolved_keys([e.message for e in entries])
        entries = [e for e in entries if e.message.level is AlertLevel.RESOLVED
                   or e.message.dedup_key not in closed]
        rows = [
            {"dedup_key": e.message.dedup_key, "level": e.level_key or e.message.level.value,
             "sink": e.sink, "tenant": e.message.tenant, "workflow_id": e.message.workflow_id,
             "title": e.message.title, "payload": json.dumps(e.message.to_payload()),
             "status": e.status, "attempts": 0, "created_at": now,
             "next_attempt_at": e.due_at, "last_error": e.note if e.status != "pending" else None}
            for e in entries
        ]
        pending = [e for e in entries if e.status == "pending"]
        with self._engine.begin() as conn:
            added = insert_ignore(conn, alert_outbox, rows, ["dedup_key", "level", "sink"])
            if pending:
                # Two statements whatever the number of entries (a tick may queue thousands):
                # read the untried pending rows of these keys, supersede the ones due later.
                waiting = conn.execute(select(c.id, c.dedup_key, c.sink, c.next_attempt_at).where(
                    c.dedup_key.in_(sorted({e.message.dedup_key for e in pending})),
                    c.status == "pending", c.attempts == 0)).all()
                due: dict[tuple[str, str], datetime] = {}
                for e in pending:
                    key = (e.message.dedup_key, e.sink)
                    due[key] = min(due.get(key, e.due_at), e.due_at)
                overtaken = [row.id for row in waiting
                             if (when := due.get((row.dedup_key, row.sink))) is not None
                             and row.next_attempt_at > when + _CLAIM_MARGIN]
                if overtaken:
                    conn.execute(update(alert_outbox).where(c.id.in_(overtaken)).values(
                        status="superseded", last_error="overtaken by a later message"))
        return added

    def paged_sinks(self, keys: Iterable[str], *, now: datetime) -> set[tuple[str, str]]:
        """(dedup key, sink) pairs with a message delivered, or pending and due by ``now``."""
        keys = sorted(set(keys))
        if not keys:
            return set()
        c = alert_outbox.c
        stmt = select(c.dedup_key, c.sink).distinct().where(
            c.dedup_key.in_(keys), c.level != AlertLevel.RESOLVED.value,
            or_(c.status == "delivered", and_(c.status == "pending", c.next_attempt_at <= now)))
        with self._engine.connect() as conn:
            return {(k, s) for k, s in conn.execute(stmt)}

    def alerted_sinks(self, keys: Iterable[str]) -> set[tuple[str, str]]:
        """(dedup key, sink) pairs with an alert delivered or still to send (held included)."""
        keys = sorted(set(keys))
        if not keys:
            return set()
        c = alert_outbox.c
        stmt = select(c.dedup_key, c.sink).distinct().where(
            c.dedup_key.in_(keys), c.status.in_(["delivered", "pending"]),
            c.level.in_([AlertLevel.WARNING.value, AlertLevel.BREACHED.value]))
        with self._engine.connect() as conn:
            return {(k, s) for k, s in conn.execute(stmt)}

    def delivered_alerts(self, keys: Iterable[str]) -> dict[str, dict[str, str]]:
        """Per dedup key, the sinks that were sent an alert and the last level each got."""
        keys = sorted(set(keys))
        if not keys:
            return {}
        c = alert_outbox.c
        stmt = (select(c.dedup_key, c.sink, c.level).where(
            c.dedup_key.in_(keys), c.status == "delivered",
            c.level.in_([AlertLevel.WARNING.value, AlertLevel.BREACHED.value,
                         AlertLevel.INGEST.value, AlertLevel.FAILED.value])).order_by(c.id))
        out: dict[str, dict[str, str]] = {}
        with self._engine.connect() as conn:
            for key, sink, level in conn.execute(stmt):
                out.setdefault(key, {})[sink] = level
        return out

    def silence_pending(self, silence: Silence, *, tenants: Sequence[str]) -> int:
        """Mark pending, untried alerts the silence covers as ``silenced`` (resolves excepted).

        Returns:
            How many rows changed.
        """
        c = alert_outbox.c
        where = [c.status == "pending", c.attempts == 0, c.level != AlertLevel.RESOLVED.value,
                 c.tenant.in_([silence.tenant] if silence.tenant else list(tenants))]
        with self._engine.connect() as conn:
            rows = conn.execute(select(c.id, c.tenant, c.workflow_id, c.payload)
                                .where(*where)).all()
        ids = [i for i, tenant, workflow_id, payload in rows if silence.covers(
            tenant, workflow_id, json.loads(payload).get("workflow_name", ""))]
        if not ids:
            return 0
        with self._engine.begin() as conn:
            return int(conn.execute(update(alert_outbox).where(c.id.in_(ids),
                                                               c.status == "pending")
                                    .values(status="silenced",
                                            last_error=f"silence #{silence.id}")).rowcount)

    def outbox_has_key(self, key: str) -> bool:
        """True if any outbox row has this dedup key (the digest's once-a-day check)."""
        c = alert_outbox.c
        with self._engine.connect() as conn:
            return conn.execute(select(c.id).where(c.dedup_key == key).limit(1)).first() is not None

    def keys_in_outbox(self, keys: Iterable[str]) -> set[str]:
        """The dedup keys among ``keys`` with any outbox row (one query, whatever their number).

        The SLA tick's failure alerts ask it: a failed run already alerted (sent, held or
        silenced), or alerted as late, gets no second failure alert.
        """
        keys = sorted(set(keys))
        if not keys:
            return set()
        c = alert_outbox.c
        with self._engine.connect() as conn:
            return {k for (k,) in conn.execute(
                select(c.dedup_key).distinct().where(c.dedup_key.in_(keys)))}

    # -- digest facts -----------------------------------------------------------------------

    def late_runs_since(self, tenant: str, since: datetime) -> list[tuple[str, str]]:
        """(run id, workflow name) of runs alerted warning or breached since ``since``."""
        c = alert_outbox.c
        stmt = (select(c.workflow_id, c.payload).where(
            c.tenant == tenant, c.created_at >= since,
            c.level.in_([AlertLevel.WARNING.value, AlertLevel.BREACHED.value])).order_by(c.id))
        seen: dict[str, str] = {}
        with self._engine.connect() as conn:
            for run_id, payload in conn.execute(stmt):
                seen.setdefault(run_id, json.loads(payload).get("workflow_name", ""))
        return list(seen.items())

    def failed_runs_since(self, tenant: str, since: datetime) -> list[tuple[str, str]]:
        """(run id, workflow name) of runs that ended failed since ``since``."""
        c = workflow_runs.c
        stmt = (select(c.id, c.name).where(c.tenant == tenant, c.state_kind == "failed",
                                           c.ended_at >= since).order_by(c.ended_at))
        with self._engine.connect() as conn:
            return [(i, n) for i, n in conn.execute(stmt)]

    def stopped_runs_since(self, tenant: str, since: datetime) -> list[tuple[str, str]]:
        """(run id, workflow name) of real stops amperity-ops requested since ``since``."""
        c = stop_ledger.c
        stmt = (select(c.workflow_id, c.workflow_name).where(
            c.tenant == tenant, c.dry_run.is_(False), c.requested_at >= since)
            .order_by(c.requested_at))
        seen: dict[str, str] = {}
        with self._engine.connect() as conn:
            for run_id, name in conn.execute(stmt):
                seen.setdefault(run_id, name)
        return list(seen.items())
