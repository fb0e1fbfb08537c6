"""Today's schema, frozen: the tables as amperity-ops created them before migrations existed.

A verbatim copy of ``amperity_ops/store/schema.py`` as of the last commit without migrations
(only ``UtcDateTime`` is spelled ``DateTime``, the type it decorates: the DDL is identical).
``schema.py`` moves on; this module must not, because the migration tests build "a store made
by an older version" from it. Never edit it to follow ``schema.py``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "alert_outbox",
    "alert_state",
    "ingest_feeds",
    "ingest_jobs",
    "metadata",
    "stop_ledger",
    "watermarks",
    "workflow_runs",
]

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
    Column("created_at", DateTime, nullable=False),
    Column("ended_at", DateTime),
    Column("warn_after_ms", BigInteger),
    Column("last_seen", DateTime, nullable=False),
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
    Column("value", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

ingest_jobs = Table(
    "ao_ingest_jobs",
    metadata,
    Column("tenant", String(_ID), primary_key=True),
    Column("id", String(_ID), primary_key=True),
    Column("workflow_id", String(_ID)),
    Column("created_at", DateTime, nullable=False),
    Column("ended_at", DateTime),
    Column("last_seen", DateTime, nullable=False),
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
    Column("started_at", DateTime),
    Column("ended_at", DateTime),
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
    Column("updated_at", DateTime, nullable=False),
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
    Column("created_at", DateTime, nullable=False),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("delivered_at", DateTime),
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
    Column("reason", Text, nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("requested_at", DateTime, nullable=False),
    Column("state_before", String(_ID)),
    Column("state_after", String(_ID)),
    Column("result", String(40)),
    Column("finished_at", DateTime),
    Column("detail", Text),
    Index("ao_stops_by_run", "tenant", "workflow_id"),
    Index("ao_stops_by_time", "tenant", "requested_at"),
)
