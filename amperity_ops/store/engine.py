"""Engines for the store: SQLite with sensible pragmas, Postgres (or anything else) as given."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

__all__ = ["make_engine", "safe_url"]


def safe_url(url: str) -> str:
    """The URL with any password masked (for logs, reprs and errors)."""
    return make_url(url).render_as_string(hide_password=True)


_WAL_ATTEMPTS = 250
_WAL_RETRY_SECONDS = 0.02


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL, retrying while another process holds it.

    Switching a new file's journal mode needs an exclusive lock, and SQLite answers "database
    is locked" at once instead of honouring the busy timeout; processes opening a new store
    together (the daemon, the webserver, runs) would fail. The mode is stored in the file, so
    this only waits the first time; at most ~5 s, then the error stands.
    """
    for attempt in range(_WAL_ATTEMPTS):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or attempt == _WAL_ATTEMPTS - 1:
                raise
            time.sleep(_WAL_RETRY_SECONDS)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the sensor read while the poll writes; busy_timeout waits instead of failing
    # when another process (the daemon's sensor vs. a run's asset) holds the write lock.
    cursor = dbapi_connection.cursor()
    _enable_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create the engine for a store URL.

    SQLite files get WAL, ``synchronous=NORMAL`` and a busy timeout, and their directory is
    created; ``sqlite://`` (memory) shares one connection so every caller sees the same data.

    Args:
        url: A SQLAlchemy URL (``sqlite:///path.sqlite``, ``postgresql+psycopg2://...``).

    Returns:
        The engine (no connection is opened yet).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        options: dict[str, Any] = {}
        if parsed.get_driver_name() == "psycopg2":
            # An executemany of an upsert (a tick's runs of every tenant) is otherwise sent row
            # by row: 5,000 round trips. Batches of statements per round trip instead.
            options["executemany_mode"] = "values_plus_batch"
        return create_engine(url, pool_pre_ping=True, **options)
    database = parsed.database or ""
    if database in ("", ":memory:"):
        engine = create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 10, "check_same_thread": False})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine
