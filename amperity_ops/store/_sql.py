"""Dialect-aware statements shared by the store's modules (upsert, insert-or-ignore)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["insert_ignore", "upsert"]

_CHUNK = 500  # rows per statement: well under SQLite's variable limit, fast on Postgres


def _insert(conn: Connection, table: Table) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"the store supports SQLite and Postgres, not {name}")


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    *,
    where: ColumnElement[bool] | None = None,
) -> None:
    """Insert rows, updating every non-key column of rows whose key already exists.

    Rows repeating a key within one call are collapsed (last wins): Postgres refuses to
    update one row twice in one statement.

    Args:
        conn: An open connection (in a transaction).
        table: The table.
        rows: Column values, every row with the same columns.
        keys: The conflict target (primary key or a unique constraint's columns).
        where: Only update an existing row when this holds for it (else it is left alone).
    """
    if not rows:
        return
    rows = list({tuple(row[k] for k in keys): row for row in rows}.values())
    stmt = _insert(conn, table)
    updates = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=updates, where=where)
    for start in range(0, len(rows), _CHUNK):
        conn.execute(stmt, list(rows[start : start + _CHUNK]))


def insert_ignore(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> int:
    """Insert rows, silently skipping those whose unique ``keys`` already exist.

    Returns:
        How many rows were new (counted from ``RETURNING``, which only reports inserted rows;
        rowcount is unreliable for batched statements).
    """
    if not rows:
        return 0
    pk = next(iter(table.primary_key.columns))
    stmt = _insert(conn, table).on_conflict_do_nothing(index_elements=list(keys)).returning(pk)
    added = 0
    for start in range(0, len(rows), _CHUNK):
        added += len(conn.execute(stmt, list(rows[start : start + _CHUNK])).all())
    return added
