"""Slack messages: the ``ts`` of each run's message per Slack bot sink and channel.

Revision ID: 0006
Revises: 0005

A new table only, so the previous version keeps working on an upgraded store. Written out
column by column (not imported from ``schema.py``), like every revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``ao_slack_messages``."""
    op.create_table(
        "ao_slack_messages",
        sa.Column("sink", sa.String(200), primary_key=True),
        sa.Column("dedup_key", sa.String(500), primary_key=True),
        sa.Column("channel", sa.String(200), primary_key=True),
        sa.Column("channel_id", sa.String(200), nullable=False),
        sa.Column("ts", sa.String(64), nullable=False),
        sa.Column("posted_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    """Not supported: amperity-ops before 0006 ignores the table, so none is needed."""
    raise NotImplementedError("store migrations are not reversed; restore a backup instead")
