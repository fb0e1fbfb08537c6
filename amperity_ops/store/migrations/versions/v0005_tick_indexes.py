"""Indexes for the SLA tick over many tenants: the stops still in flight.

Revision ID: 0005
Revises: 0004

The tick asks every tick, for every tenant at once, which stops it recorded that never
finished (lost stops). The ledger keeps every stop ever made; a partial index on the
unfinished rows (``result IS NULL``) keeps that question as cheap as the rows it returns.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the partial index ``ao_stops_unfinished``."""
    unfinished = sa.text("result IS NULL")
    op.create_index(
        "ao_stops_unfinished",
        "ao_stop_ledger",
        ["requested_at"],
        postgresql_where=unfinished,
        sqlite_where=unfinished,
    )


def downgrade() -> None:
    """Drop the index (nothing else depends on it)."""
    op.drop_index("ao_stops_unfinished", table_name="ao_stop_ledger")
