"""Alert state per run (the state machine's memory) and the delivery outbox.

The outbox holds one row per (dedup key, level, sink), ever: enqueueing the same message twice,
from two ticks or two processes, adds nothing, and a delivered row is never handed out again.
Claiming a row pushes its ``next_attempt_at`` forward by a lease, with a conditional update,
so two deliverers running at once do not both send it. Per sink and dedup key, items go out in
the order they were queued: an item is not due while an older one for the same sink and key is
still pending (a PagerDuty resolve must never overtake its trigger).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, update

from amperity_ops.core import AlertLevel, AlertMessage, AlertTrack
from amperity_ops.store._sql import insert_ignore, upsert
from amperity_ops.store.schema import alert_outbox, alert_state

__all__ = ["AlertLedgerMixin", "OutboxItem"]


@dataclass(frozen=True)
class OutboxItem:
    """One message for one sink, as the outbox holds it."""

    id: int
    sink: str
    message: AlertMessage
    status: str
    """``pending``, ``delivered`` or ``expired``."""
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None


def _item(row: object) -> OutboxItem:
    r = row._mapping  # type: ignore[attr-defined]
    return OutboxItem(
        id=r["id"], sink=r["sink"], message=AlertMessage.from_payload(json.loads(r["payload"])),
        status=r["status"], attempts=r["attempts"], created_at=r["created_at"],
        next_attempt_at=r["next_attempt_at"], delivered_at=r["delivered_at"],
        last_error=r["last_error"],
    )


class AlertLedgerMixin:
    """Alert tracks and the outbox."""

    _engine: Engine

    # -- alert state ------------------------------------------------------------------------

    def open_alert_tracks(self, tenant: str) -> dict[str, AlertTrack]:
        """Tracks of runs alerted on and not yet resolved, by run id."""
        c = alert_state.c
        stmt = select(c.subject, c.level, c.last_sent, c.workflow_name).where(
            c.tenant == tenant, c.kind == "run", c.level != AlertLevel.RESOLVED.value)
        with self._engine.connect() as conn:
            return {
                subject: AlertTrack(AlertLevel(level), AlertLevel(sent) if sent else None, name)
                for subject, level, sent, name in conn.execute(stmt)
            }

    def alert_tracks(self, tenant: str, run_ids: Iterable[str]) -> dict[str, AlertTrack]:
        """Tracks (resolved ones included) of the given runs."""
        c = alert_state.c
        stmt = select(c.subject, c.level, c.last_sent, c.workflow_name).where(
            c.tenant == tenant, c.kind == "run", c.subject.in_(list(run_ids)))
        with self._engine.connect() as conn:
            return {
                subject: AlertTrack(AlertLevel(level), AlertLevel(sent) if sent else None, name)
                for subject, level, sent, name in conn.execute(stmt)
            }

    def save_alert_tracks(
        self, tenant: str, updates: Mapping[str, AlertTrack], *, now: datetime
    ) -> None:
        """Write the tracks a tick changed (``TickPlan.track_updates``).

        A resolved track is final: it is never overwritten by a later, lower level (a run that
        vanished and came back must not page again under a key that is already resolved).
        """
        rows = [
            {"tenant": tenant, "subject": run_id, "kind": "run", "level": t.level.value,
             "last_sent": t.last_sent.value if t.last_sent else None,
             "workflow_name": t.workflow_name, "updated_at": now}
            for run_id, t in updates.items()
        ]
        with self._engine.begin() as conn:
            upsert(conn, alert_state, rows, ["tenant", "subject"],
                   where=alert_state.c.level != AlertLevel.RESOLVED.value)

    def ingest_alerted(self, tenant: str, job_ids: Iterable[str]) -> set[str]:
        """Which of these ingest jobs were already alerted on."""
        subjects = {f"ingest:{j}": j for j in job_ids}
        c = alert_state.c
        stmt = select(c.subject).where(c.tenant == tenant, c.kind == "ingest",
                                       c.subject.in_(list(subjects)))
        with self._engine.connect() as conn:
            return {subjects[s] for (s,) in conn.execute(stmt)}

    def mark_ingest_alerted(self, tenant: str, job_id: str, *, now: datetime) -> None:
        """Remember that an ingest job was alerted on (one alert per job)."""
        self.mark_ingest_alerted_many(tenant, [job_id], now=now)

    def mark_ingest_alerted_many(
        self, tenant: str, job_ids: Iterable[str], *, now: datetime
    ) -> None:
        """Remember several alerted ingest jobs in one transaction."""
        rows = [{"tenant": tenant, "subject": f"ingest:{job_id}", "kind": "ingest",
                 "level": AlertLevel.INGEST.value, "last_sent": AlertLevel.INGEST.value,
                 "workflow_name": "", "updated_at": now} for job_id in job_ids]
        with self._engine.begin() as conn:
            upsert(conn, alert_state, rows, ["tenant", "subject"])

    # -- outbox -----------------------------------------------------------------------------

    def enqueue_alerts(
        self, messages: Iterable[AlertMessage], sinks: Sequence[str], *, now: datetime
    ) -> int:
        """Queue each message for each sink, once ever per (dedup key, level, sink).

        Once ``resolved`` was queued for a dedup key, nothing else is queued under that key:
        resolved is final, and a trigger after a resolve would open an incident nobody closes.

        Returns:
            How many new outbox rows were added (0 when all were queued before).
        """
        messages = list(messages)
        closed = self._resolved_keys(messages)
        messages = [m for m in messages
                    if m.level is AlertLevel.RESOLVED or m.dedup_key not in closed]
        rows = [
            {"dedup_key": m.dedup_key, "level": m.level.value, "sink": sink,
             "tenant": m.tenant, "workflow_id": m.workflow_id, "title": m.title,
             "payload": json.dumps(m.to_payload()), "status": "pending", "attempts": 0,
             "created_at": now, "next_attempt_at": now}
            for m in messages for sink in sinks
        ]
        with self._engine.begin() as conn:
            return insert_ignore(conn, alert_outbox, rows, ["dedup_key", "level", "sink"])

    def _resolved_keys(self, messages: Iterable[AlertMessage]) -> set[str]:
        """The dedup keys among these (not-resolve) messages that were already resolved.

        Resolved is final: nothing but a resolve is queued under such a key again, since a
        trigger after a resolve would open an incident nobody closes.
        """
        c = alert_outbox.c
        keys = sorted({m.dedup_key for m in messages if m.level is not AlertLevel.RESOLVED})
        if not keys:
            return set()
        resolved = select(c.dedup_key).distinct().where(
            c.dedup_key.in_(keys), c.level == AlertLevel.RESOLVED.value)
        with self._engine.connect() as conn:
            return {k for (k,) in conn.execute(resolved)}

    def claim_due_alerts(
        self, *, now: datetime, sinks: Iterable[str] | None = None, limit: int = 100,
        lease: timedelta = timedelta(minutes=2),
    ) -> list[OutboxItem]:
        """Hand out pending items due at ``now``, oldest first, leased to this caller.

        A claimed item is not due again until ``now + lease``; if the caller dies before
        marking it, it comes back then (at least once).

        Args:
            now: The current time.
            sinks: Only items for these sinks (None: all).
            limit: At most this many items.
            lease: How long the claim lasts.

        Returns:
            The claimed items.
        """
        c = alert_outbox.c
        older = alert_outbox.alias("older")
        blocked = (select(older.c.id)
                   .where(older.c.sink == c.sink, older.c.dedup_key == c.dedup_key,
                          older.c.status == "pending", older.c.id < c.id)
                   .exists())
        where = [c.status == "pending", c.next_attempt_at <= now, ~blocked]
        if sinks is not None:
            where.append(c.sink.in_(list(sinks)))
        stmt = select(alert_outbox).where(*where).order_by(c.next_attempt_at, c.id).limit(limit)
        with self._engine.connect() as conn:
            candidates = {row.id: _item(row) for row in conn.execute(stmt)}
        if not candidates:
            return []
        # One conditional update claims them all: a row another deliverer claimed meanwhile
        # has next_attempt_at = its now + lease, no longer due, and is not returned here.
        claim = (update(alert_outbox)
                 .where(c.id.in_(list(candidates)), c.status == "pending",
                        c.next_attempt_at <= now)
                 .values(next_attempt_at=now + lease)
                 .returning(c.id))
        with self._engine.begin() as conn:
            taken = {i for (i,) in conn.execute(claim)}
        return [item for item_id, item in candidates.items() if item_id in taken]

    def mark_alert_delivered(self, item_id: int, *, now: datetime) -> None:
        """Record a successful delivery: the item is never handed out again."""
        with self.recording_deliveries(now=now) as mark:
            mark(item_id)

    @contextmanager
    def recording_deliveries(self, *, now: datetime) -> Iterator[Callable[[int], None]]:
        """A function that records one delivery at once, each its own commit, on one connection.

        One commit per delivery, the moment the sink accepted it, so a deliverer killed
        mid-round sends again only the item in flight; one connection for the round, so each
        costs a statement and a commit, not a pool checkout and its ping. On Postgres the
        commit does not wait for the WAL flush: the mark survives the deliverer's death (the
        server has it); only the server crashing within a fraction of a second could lose it,
        and then the alert is sent once more (at least once, as ever).
        """
        c = alert_outbox.c
        with self._engine.connect() as conn:
            postgres = conn.dialect.name == "postgresql"

            def mark(item_id: int) -> None:
                if postgres:
                    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                conn.execute(update(alert_outbox)
                             .where(c.id == item_id, c.status == "pending")
                             .values(status="delivered", delivered_at=now, last_error=None))
                conn.commit()

            yield mark

    def mark_alerts_delivered(self, item_ids: Iterable[int], *, now: datetime) -> int:
        """Record several successful deliveries in one transaction.

        Returns:
            How many rows changed (items already delivered or expired are left alone).
        """
        ids = sorted(set(item_ids))
        if not ids:
            return 0
        c = alert_outbox.c
        with self._engine.begin() as conn:
            return int(conn.execute(update(alert_outbox)
                                    .where(c.id.in_(ids), c.status == "pending")
                                    .values(status="delivered", delivered_at=now,
                                            last_error=None)).rowcount)

    def postpone_alerts(self, item_ids: Iterable[int], *, until: datetime) -> None:
        """Put several claimed items back, untried, due at ``until`` (one transaction)."""
        ids = sorted(set(item_ids))
        if not ids:
            return
        c = alert_outbox.c
        with self._engine.begin() as conn:
            conn.execute(update(alert_outbox).where(c.id.in_(ids), c.status == "pending")
                         .values(next_attempt_at=until))

    def mark_alert_failed(
        self, item_id: int, *, now: datetime, error: str, retry_at: datetime
    ) -> None:
        """Record a failed attempt and when to try again (the item is kept)."""
        c = alert_outbox.c
        with self._engine.begin() as conn:
            conn.execute(update(alert_outbox).where(c.id == item_id, c.status == "pending")
                         .values(attempts=c.attempts + 1, last_error=error[:1000],
                                 next_attempt_at=retry_at))

    def postpone_alert(self, item_id: int, *, until: datetime) -> None:
        """Put a claimed item back, untried, to be due at ``until`` (no attempt counted)."""
        c = alert_outbox.c
        with self._engine.begin() as conn:
            conn.execute(update(alert_outbox).where(c.id == item_id, c.status == "pending")
                         .values(next_attempt_at=until))

    def mark_alert_expired(self, item_id: int, *, now: datetime, error: str) -> None:
        """Give up on an item (kept in the store with status ``expired``)."""
        c = alert_outbox.c
        with self._engine.begin() as conn:
            conn.execute(update(alert_outbox).where(c.id == item_id, c.status == "pending")
                         .values(status="expired", attempts=c.attempts + 1,
                                 last_error=error[:1000]))

    def outbox_items(self, *, status: str | None = None, limit: int = 1000) -> list[OutboxItem]:
        """Outbox rows, oldest first (for inspection, metadata and tests)."""
        stmt = select(alert_outbox).order_by(alert_outbox.c.id).limit(limit)
        if status is not None:
            stmt = stmt.where(alert_outbox.c.status == status)
        with self._engine.connect() as conn:
            return [_item(row) for row in conn.execute(stmt)]

    def outbox_counts(self) -> dict[str, int]:
        """How many outbox rows per status (``pending``, ``delivered``, ``expired``)."""
        c = alert_outbox.c
        stmt = select(c.status, func.count()).group_by(c.status)
        with self._engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(stmt)}
