"""Typed requesters: who asked for a stop, as a kind and a name beside the display text.

Revision ID: 0002
Revises: 0001

Existing rows are backfilled from the free text ``requested_by`` (which stays, for display):
``"sensor <name>"`` -> (sensor, name); ``"cli"``, ``"cli <user>"`` or ``"cli:<user>"`` (what
the CLI has written so far) -> (cli, user or ""); anything else -> (person, the whole text).
Prefixes are compared with ``substr`` rather than ``LIKE``: SQLite's ``LIKE`` ignores case,
Postgres' does not, and both databases must backfill the same rows the same way.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``requester_kind`` and ``requester_name`` and fill them for every existing row."""
    op.add_column("ao_stop_ledger", sa.Column("requester_kind", sa.String(16)))
    op.add_column("ao_stop_ledger", sa.Column("requester_name", sa.Text))
    ledger = sa.table(
        "ao_stop_ledger",
        sa.column("requested_by", sa.Text),
        sa.column("requester_kind", sa.String(16)),
        sa.column("requester_name", sa.Text),
    )
    text = ledger.c.requested_by

    def after(prefix: str) -> sa.ColumnElement[str]:
        return sa.func.substr(text, len(prefix) + 1)

    def starts(prefix: str) -> sa.ColumnElement[bool]:
        return sa.func.substr(text, 1, len(prefix)) == prefix

    op.execute(
        ledger.update()
        .where(ledger.c.requester_kind.is_(None))
        .values(
            requester_kind=sa.case(
                (starts("sensor "), "sensor"),
                (sa.or_(text == "cli", starts("cli "), starts("cli:")), "cli"),
                else_="person",
            ),
            requester_name=sa.case(
                (starts("sensor "), after("sensor ")),
                (text == "cli", ""),
                (starts("cli "), after("cli ")),
                (starts("cli:"), after("cli:")),
                else_=text,
            ),
        )
    )


def downgrade() -> None:
    """Not supported: amperity-ops before 0002 ignores the two columns, so none is needed."""
    raise NotImplementedError("store migrations are not reversed; restore a backup instead")
