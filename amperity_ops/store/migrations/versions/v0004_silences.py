"""Silences: who keeps which run's (or workflow's) alerts from being sent, until when, and why.

Revision ID: 0004
Revises: 0003

Written out column by column, not imported from ``schema.py`` (as every revision is).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``ao_silences``."""
    op.create_table(
        "ao_silences",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(200)),
        sa.Column("run_id", sa.String(200)),
        sa.Column("workflow", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("hold_stops", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("until", sa.DateTime, nullable=False),
        sa.Column("lifted_at", sa.DateTime),
        sa.Column("lifted_by", sa.Text),
    )
    op.create_index("ao_silences_by_until", "ao_silences", ["until"])


def downgrade() -> None:
    """Drop ``ao_silences``."""
    op.drop_index("ao_silences_by_until", table_name="ao_silences")
    op.drop_table("ao_silences")
