"""The :class:`Store` facade: one engine, one schema, every table's operations."""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from amperity_ops.store.alert_ledger import AlertLedgerMixin
from amperity_ops.store.engine import make_engine, safe_url
from amperity_ops.store.history import HistoryMixin
from amperity_ops.store.schema import metadata
from amperity_ops.store.stop_ledger import StopLedgerMixin

__all__ = ["Store", "StoreError"]

logger = logging.getLogger(__name__)


class StoreError(Exception):
    """The store cannot be opened (bad URL, database unreachable). The message has no password."""


class Store(HistoryMixin, AlertLedgerMixin, StopLedgerMixin):
    """The history store: runs, ingest jobs, watermarks, alert state, outbox, stop ledger.

    Safe to share between threads; several processes may open the same URL (SQLite in WAL
    mode, or Postgres). Every method is its own transaction.
    """

    def __init__(self, engine: Engine, *, create: bool = True) -> None:
        self._engine = engine
        if create:
            self.create_schema()

    @classmethod
    def from_url(cls, url: str) -> Store:
        """Open (and create, idempotently) the store at a SQLAlchemy URL.

        Args:
            url: ``sqlite:///path/file.sqlite``, ``sqlite://`` (memory), or
                ``postgresql+psycopg2://user@host/db``.

        Raises:
            StoreError: The URL is invalid or the database cannot be reached.
        """
        try:
            return cls(make_engine(url))
        except (OperationalError, ProgrammingError, ArgumentError, ValueError, ImportError,
                OSError) as err:
            reason = getattr(err, "orig", None) or err
            try:
                where = safe_url(url)
            except ArgumentError:
                where = "(an unparseable URL)"
            first_line = str(reason).splitlines()[0] if str(reason) else ""
            raise StoreError(
                f"cannot open the store at {where}: {type(reason).__name__}: {first_line}"
            ) from None

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tests and tools)."""
        return self._engine

    @property
    def url(self) -> str:
        """The store URL with any password masked."""
        return self._engine.url.render_as_string(hide_password=True)

    def create_schema(self) -> None:
        """Create missing tables and indexes; existing ones are left as they are."""
        try:
            metadata.create_all(self._engine, checkfirst=True)
        except (OperationalError, ProgrammingError) as err:
            # Two processes creating the schema at once: one loses the race; check again.
            logger.debug("schema creation raced (%s); retrying once", type(err).__name__)
            metadata.create_all(self._engine, checkfirst=True)

    def close(self) -> None:
        """Release the connections."""
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"
