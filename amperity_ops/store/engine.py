"""Engines for the store: SQLite with sensible pragmas, Postgres (or anything else) as given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

__all__ = ["make_engine", "safe_url"]


def safe_url(url: str) -> str:
    """The URL with any password masked (for logs, reprs and errors)."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the sensor read while the poll writes; busy_timeout waits instead of failing
    # when another process (the daemon's sensor vs. a run's asset) holds the write lock.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
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
        return create_engine(url, pool_pre_ping=True)
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
