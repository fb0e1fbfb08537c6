"""Reported asset events: which Amperity runs and feeds were told to Dagster, once each.

Revision ID: 0003
Revises: 0002

A new table only, written out here (not imported from ``schema.py``, which moves on);
older versions of amperity-ops ignore it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``ao_reported_events`` and its index."""
    op.create_table(
        "ao_reported_events",
        sa.Column("tenant", sa.String(200), primary_key=True),
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("event", sa.String(200), primary_key=True),
        sa.Column("asset", sa.Text, nullable=False),
        sa.Column("happened_at", sa.DateTime),
        sa.Column("reported_at", sa.DateTime, nullable=False),
    )
    op.create_index("ao_reported_by_asset", "ao_reported_events",
                    ["tenant", "asset", "happened_at"])


def downgrade() -> None:
    """Not supported: migrations only add (restore a backup instead)."""
    raise NotImplementedError("store migrations are not reversed; restore a backup instead")
