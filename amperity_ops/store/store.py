"""The :class:`Store` facade: one engine, one schema (migrated), every table's operations."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from amperity_ops.store.alert_ledger import AlertLedgerMixin
from amperity_ops.store.engine import make_engine, safe_url
from amperity_ops.store.errors import StoreError
from amperity_ops.store.history import HistoryMixin
from amperity_ops.store.migrate import prepare_schema
from amperity_ops.store.oncall_ledger import OncallLedgerMixin
from amperity_ops.store.reported_events import ReportedEventsMixin
from amperity_ops.store.slack_messages import SlackMessagesMixin
from amperity_ops.store.stop_ledger import StopLedgerMixin
from amperity_ops.store.tick_batch import TickBatchMixin

__all__ = ["Store", "StoreError"]


class Store(HistoryMixin, AlertLedgerMixin, StopLedgerMixin, OncallLedgerMixin,
            ReportedEventsMixin, TickBatchMixin, SlackMessagesMixin):
    """The history store: runs, ingest jobs, watermarks, alert state, outbox, stop ledger,
    Slack messages.

    Safe to share between threads; several processes may open the same URL (SQLite in WAL
    mode, or Postgres). Every method is its own transaction.

    Args:
        engine: The store's engine (:func:`~amperity_ops.store.make_engine`).
        create: Prepare the schema on opening (:func:`~amperity_ops.store.migrate.
            prepare_schema`): create it in an empty database, upgrade a SQLite store behind,
            refuse a Postgres store behind. False: touch no schema (tools, tests).

    Raises:
        StoreError: The schema is behind and is not upgraded automatically.
    """

    def __init__(self, engine: Engine, *, create: bool = True) -> None:
        self._engine = engine
        if create:
            self.create_schema()

    @classmethod
    def from_url(cls, url: str) -> Store:
        """Open the store at a SQLAlchemy URL, creating or upgrading its schema where automatic.

        Args:
            url: ``sqlite:///path/file.sqlite``, ``sqlite://`` (memory), or
                ``postgresql+psycopg2://user@host/db``.

        Raises:
            StoreError: The URL is invalid, the database cannot be reached, or its schema is
                behind and must be upgraded with ``amperity-ops store upgrade``.
        """
        engine: Engine | None = None
        try:
            engine = make_engine(url)
            return cls(engine)
        except StoreError:
            if engine is not None:
                engine.dispose()
            raise
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
        """Bring the schema to the head revision where that is automatic (README, "Store upgrades").

        An empty database gets every table; a SQLite store behind (or made before migrations)
        is upgraded in place; any number of processes may do this at once.

        Raises:
            StoreError: A Postgres store behind: run ``amperity-ops store upgrade``.
        """
        prepare_schema(self._engine)

    def close(self) -> None:
        """Release the connections."""
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"
