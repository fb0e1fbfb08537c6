"""Baseline: the schema every store had before migrations (``metadata.create_all``).

Revision ID: 0001
Revises: (none)

Written out column by column, not imported from ``schema.py``: this revision must keep
building today's tables after ``schema.py`` moves on. A store created before migrations is
stamped with this revision instead of running it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = 200  # as in schema.py: Amperity ids are short; names get Text


def upgrade() -> None:
    """Create the seven tables, their indexes and the outbox's once-only constraint."""
    op.create_table(
        "ao_workflow_runs",
        sa.Column("tenant", sa.String(_ID), primary_key=True),
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("type", sa.String(_ID), nullable=False),
        sa.Column("state_raw", sa.String(_ID), nullable=False),
        sa.Column("state_kind", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime),
        sa.Column("warn_after_ms", sa.BigInteger),
        sa.Column("last_seen", sa.DateTime, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ao_runs_by_kind", "ao_workflow_runs", ["tenant", "state_kind"])
    op.create_index(
        "ao_runs_by_name", "ao_workflow_runs", ["tenant", "name", "state_kind", "ended_at"]
    )
    op.create_index("ao_runs_by_created", "ao_workflow_runs", ["tenant", "created_at"])

    op.create_table(
        "ao_watermarks",
        sa.Column("tenant", sa.String(_ID), primary_key=True),
        sa.Column("stream", sa.String(_ID), primary_key=True),
        sa.Column("value", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )

    op.create_table(
        "ao_ingest_jobs",
        sa.Column("tenant", sa.String(_ID), primary_key=True),
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("workflow_id", sa.String(_ID)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime),
        sa.Column("last_seen", sa.DateTime, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ao_ingest_by_created", "ao_ingest_jobs", ["tenant", "created_at"])

    op.create_table(
        "ao_ingest_feeds",
        sa.Column("tenant", sa.String(_ID), primary_key=True),
        sa.Column("job_id", sa.String(_ID), primary_key=True),
        sa.Column("feed_id", sa.String(_ID), primary_key=True),
        sa.Column("table_name", sa.Text, nullable=False),
        sa.Column("state_raw", sa.String(_ID), nullable=False),
        sa.Column("state_kind", sa.String(40), nullable=False),
        sa.Column("read", sa.BigInteger, nullable=False),
        sa.Column("errors", sa.BigInteger, nullable=False),
        sa.Column("rejected", sa.BigInteger, nullable=False),
        sa.Column("inserted", sa.BigInteger, nullable=False),
        sa.Column("updated", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("ended_at", sa.DateTime),
    )

    op.create_table(
        "ao_alert_state",
        sa.Column("tenant", sa.String(_ID), primary_key=True),
        sa.Column("subject", sa.String(_ID), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("last_sent", sa.String(20)),
        sa.Column("workflow_name", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ao_alert_state_open", "ao_alert_state", ["tenant", "kind", "level"])

    op.create_table(
        "ao_alert_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dedup_key", sa.String(500), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("sink", sa.String(_ID), nullable=False),
        sa.Column("tenant", sa.String(_ID), nullable=False),
        sa.Column("workflow_id", sa.String(_ID), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("delivered_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.UniqueConstraint("dedup_key", "level", "sink", name="ao_outbox_once"),
    )
    op.create_index("ao_outbox_due", "ao_alert_outbox", ["status", "next_attempt_at"])

    op.create_table(
        "ao_stop_ledger",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_key", sa.String(500), nullable=False),
        sa.Column("tenant", sa.String(_ID), nullable=False),
        sa.Column("workflow_id", sa.String(_ID), nullable=False),
        sa.Column("workflow_name", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("requested_at", sa.DateTime, nullable=False),
        sa.Column("state_before", sa.String(_ID)),
        sa.Column("state_after", sa.String(_ID)),
        sa.Column("result", sa.String(40)),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ao_stops_by_run", "ao_stop_ledger", ["tenant", "workflow_id"])
    op.create_index("ao_stops_by_time", "ao_stop_ledger", ["tenant", "requested_at"])


def downgrade() -> None:
    """Not supported: a store is never taken below its baseline (restore a backup instead)."""
    raise NotImplementedError("store migrations are not reversed; restore a backup instead")
