"""The store's one schema (SQLAlchemy Core), identical on SQLite and Postgres.

Timestamps are stored as naive UTC (:class:`UtcDateTime`) so both databases compare them the
same way, and come back UTC-aware. Human-readable columns (titles, reasons, errors) never hold
a secret: sink URLs and routing keys stay in the configuration, not here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

__all__ = [
    "alert_outbox",
    "alert_state",
    "ingest_feeds",
    "ingest_jobs",
    "metadata",
    "reported_events",
    "silences",
    "slack_messages",
    "stop_ledger",
    "watermarks",
    "workflow_runs",
]


class UtcDateTime(TypeDecorator[datetime]):
    """A datetime stored as naive UTC and returned UTC-aware (naive input is read as UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # defensive: SQLite without type affinity
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


metadata = MetaData()

_ID = 200  # Amperity ids are short (wf-20240619-14418-6UhqSe); names get Text

workflow_runs = Table(
    "ao_workflow_runs",
    metadata,
    Column("tenant", String(_ID), primary_key=True),
    Column("id", String(_ID), primary_key=True),
    Column("name", Text, nullable=False),
    Column("type", String(_ID), nullable=False),
    Column("state_raw", String(_ID), nullable=False),
    Column("state_kind", String(40), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Column("warn_after_ms", BigInteger),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Index("ao_runs_by_kind", "tenant", "state_kind"),
    Index("ao_runs_by_name", "tenant", "name", "state_kind", "ended_at"),
    Index("ao_runs_by_created", "tenant", "created_at"),
)

watermarks = Table(
    "ao_watermarks",
    metadata,
    Column("tenant", String(_ID), primary_key=True),
    Column("stream", String(_ID), primary_key=True),
    Column("value", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

ingest_jobs = Table(
    "ao_ingest_jobs",
    metadata,
    Column("tenant", String(_ID), primary_key=True),
    Column("id", String(_ID), primary_key=True),
    Column("workflow_id", String(_ID)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Index("ao_ingest_by_created", "tenant", "created_at"),
)

ingest_feeds = Table(
    "ao_ingest_feeds",
    metadata,
    Column("tenant", String(_ID), primary_key=True),
    Column("job_id", String(_ID), primary_key=True),
    Column("feed_id", String(_ID), primary_key=True),
    Column("table_name", Text, nullable=False),
    Column("state_raw", String(_ID), nullable=False),
    Column("state_kind", String(40), nullable=False),
    Column("read", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("rejected", BigInteger, nullable=False),
    Column("inserted", BigInteger, nullable=False),
    Column("updated", BigInteger, nullable=False),
    Column("started_at", UtcDateTime),
    Column("ended_at", UtcDateTime),
)

alert_state = Table(
    "ao_alert_state",
    metadata,
    Column("tenant", String(_ID), primary_key=True),
    Column("subject", String(_ID), primary_key=True),  # a run id, or "ingest:<job id>"
    Column("kind", String(20), nullable=False),  # run | ingest
    Column("level", String(20), nullable=False),
    Column("last_sent", String(20)),
    Column("workflow_name", Text, nullable=False, default=""),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ao_alert_state_open", "tenant", "kind", "level"),
)

alert_outbox = Table(
    "ao_alert_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedup_key", String(500), nullable=False),
    Column("level", String(20), nullable=False),
    Column("sink", String(_ID), nullable=False),
    Column("tenant", String(_ID), nullable=False),
    Column("workflow_id", String(_ID), nullable=False),
    Column("title", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(20), nullable=False),  # pending | delivered | expired
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    Column("last_error", Text),
    # Exactly one row per message level and sink, ever: the heart of "never sent twice".
    UniqueConstraint("dedup_key", "level", "sink", name="ao_outbox_once"),
    Index("ao_outbox_due", "status", "next_attempt_at"),
)

stop_ledger = Table(
    "ao_stop_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_key", String(500), nullable=False),
    Column("tenant", String(_ID), nullable=False),
    Column("workflow_id", String(_ID), nullable=False),
    Column("workflow_name", Text, nullable=False, default=""),
    Column("requested_by", Text, nullable=False),
    Column("requester_kind", String(16)),
    Column("requester_name", Text),
    Column("reason", Text, nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("state_before", String(_ID)),
    Column("state_after", String(_ID)),
    Column("result", String(40)),
    Column("finished_at", UtcDateTime),
    Column("detail", Text),
    # The Dagster run key carrying this stop when it went in a batch run (many stops in one
    # tick); None: a run of its own, under ``run_key`` (revision 0007).
    Column("launched_as", String(500)),
    Index("ao_stops_by_run", "tenant", "workflow_id"),
    Index("ao_stops_by_time", "tenant", "requested_at"),
)

silences = Table(
    "ao_silences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(_ID)),  # None: every tenant
    Column("run_id", String(_ID)),  # one run, or ...
    Column("workflow", Text),  # ... a glob on workflow names
    Column("reason", Text, nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("hold_stops", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("until", UtcDateTime, nullable=False),
    Column("lifted_at", UtcDateTime),
    Column("lifted_by", Text),
    Index("ao_silences_by_until", "until"),
)

reported_events = Table(
    "ao_reported_events",
    metadata,
    Column("tenant", String(_ID), primary_key=True),
    Column("subject", String(_ID), primary_key=True),  # a run id or an ingest job id
    Column("event", String(_ID), primary_key=True),  # materialized | check:... | table:<name>
    Column("asset", Text, nullable=False),  # workflow:<name> | table:<name>
    Column("happened_at", UtcDateTime),  # when the run or feed ended (None: run in flight)
    Column("reported_at", UtcDateTime, nullable=False),
    Index("ao_reported_by_asset", "tenant", "asset", "happened_at"),
)
"""Asset events told to Dagster (one row each): a run is reported once, across restarts."""
# The stops still in flight (no result yet) are few; the ledger keeps every stop ever made.
# The SLA tick asks for them across every tenant each tick (lost stops), the stop job by run.
Index(
    "ao_stops_unfinished",
    stop_ledger.c.requested_at,
    postgresql_where=stop_ledger.c.result.is_(None),
    sqlite_where=stop_ledger.c.result.is_(None),
)

slack_messages = Table(
    "ao_slack_messages",
    metadata,
    # The message a Slack bot sink posted for one run, edited in place afterwards: kept here
    # so a restarted process edits it too instead of posting a second one.
    Column("sink", String(_ID), primary_key=True),
    Column("dedup_key", String(500), primary_key=True),
    Column("channel", String(_ID), primary_key=True),  # as configured (#oncall or an id)
    Column("channel_id", String(_ID), nullable=False),  # as Slack answered (chat.update needs it)
    Column("ts", String(64), nullable=False),
    Column("posted_at", UtcDateTime, nullable=False),
)
