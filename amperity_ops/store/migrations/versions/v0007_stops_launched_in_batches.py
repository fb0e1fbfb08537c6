"""Stops launched in a batch: the Dagster run key that carries each ledger row's stop.

Revision ID: 0007
Revises: 0006

One nullable column. ``launched_as`` is set when the SLA sensor hands a row's stop to a batch
run (many stops in one tick) rather than to a run of its own; a store upgraded from 0006 has it
empty on every row, which reads as before (the row's own ``run_key``), so the previous version
keeps working on an upgraded store.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``ao_stop_ledger.launched_as``."""
    with op.batch_alter_table("ao_stop_ledger") as batch:
        batch.add_column(sa.Column("launched_as", sa.String(500), nullable=True))


def downgrade() -> None:
    """Not supported: amperity-ops before 0007 ignores the column, so none is needed."""
    raise NotImplementedError("store migrations are not reversed; restore a backup instead")
