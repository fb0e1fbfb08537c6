"""Schema migrations for the store, on Alembic, run in code (no ``alembic.ini``, no ``env.py``).

A database is in one of four states (:class:`SchemaStatus`): empty (no ``ao_`` table), legacy
(tables made by ``metadata.create_all`` before migrations existed: revision ``0001`` without a
version table), at a recorded revision, or ahead (a revision this version does not know: a
newer amperity-ops upgraded it). :func:`upgrade_schema` takes any known state to the head under
a lock, so any number of processes may do it at once; :func:`prepare_schema` is what opening a
:class:`~amperity_ops.store.Store` does, and decides what happens automatically (README, "Store
upgrades"): an empty database and a SQLite file are upgraded; a Postgres store behind is not.

The version table is ``ao_alembic_version``, not Alembic's default ``alembic_version``: the
store may share a database (and its schema) with Dagster's own storage, which uses Alembic too.
It is created unqualified, so it lives in the first schema of the search path like the tables.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, func, inspect, select, table

from amperity_ops.store.errors import StoreError
from amperity_ops.store.schema import metadata

__all__ = [
    "BASELINE",
    "VERSION_TABLE",
    "SchemaStatus",
    "UpgradeReport",
    "head_revision",
    "prepare_schema",
    "schema_differences",
    "schema_status",
    "upgrade_schema",
    "upgrades_automatically",
]

logger = logging.getLogger(__name__)

VERSION_TABLE = "ao_alembic_version"
BASELINE = "0001"
"""The revision of every store created before migrations existed."""
BASELINE_TABLES = frozenset({
    "ao_workflow_runs", "ao_watermarks", "ao_ingest_jobs", "ao_ingest_feeds",
    "ao_alert_state", "ao_alert_outbox", "ao_stop_ledger",
})
_PREFIX = "ao_"
_UPGRADE_COMMAND = "amperity-ops store upgrade"
_MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass(frozen=True)
class SchemaStatus:
    """Where a store's schema stands against this version's migrations.

    Attributes:
        current: The store's revision (``BASELINE`` for a legacy store), None when empty.
        head: The newest revision this version of amperity-ops knows.
        legacy: Tables made before migrations existed, no version table yet.
        known: False when ``current`` is a revision this version does not know (ahead).
        tables: The store's own tables (``ao_*``, without the version table).
    """

    current: str | None
    head: str
    legacy: bool = False
    known: bool = True
    tables: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        """No table of the store yet (first use)."""
        return self.current is None

    @property
    def at_head(self) -> bool:
        """Nothing to do."""
        return self.current == self.head

    @property
    def behind(self) -> bool:
        """A store with data whose schema an upgrade would change."""
        return self.current is not None and self.known and not self.at_head

    @property
    def ahead(self) -> bool:
        """Upgraded by a newer amperity-ops (this version keeps working: migrations add)."""
        return not self.known

    def describe(self) -> str:
        """``revision 0001 (head 0002)``, ``empty``, ``revision 0003, newer than head 0002``."""
        if self.empty:
            return f"empty (head {self.head})"
        before = " (created before migrations)" if self.legacy else ""
        if self.ahead:
            return f"revision {self.current}, newer than this version's head {self.head}"
        if self.at_head:
            return f"revision {self.current} (head){before}"
        return f"revision {self.current}{before}, head {self.head}"


@dataclass(frozen=True)
class UpgradeReport:
    """What :func:`upgrade_schema` did.

    Attributes:
        from_revision: The revision before (None: the database was empty).
        to_revision: The revision after (the head).
        rows: Rows per table that existed before the upgrade, counted after it.
        rows_before: The same counts taken before the upgrade (equal unless rows were lost).
    """

    from_revision: str | None
    to_revision: str
    rows: dict[str, int]
    rows_before: dict[str, int]

    @property
    def changed(self) -> bool:
        """Whether the upgrade ran any migration (or stamped a legacy store)."""
        return self.from_revision != self.to_revision


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


@cache
def _scripts() -> ScriptDirectory:
    # Parsed once per process: every Store() would otherwise re-read the revision files.
    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    """The newest revision shipped with this version of amperity-ops."""
    head = _scripts().get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise StoreError("no store migrations are installed")
    return head


def _safe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _migration_context(conn: Connection, **opts: Any) -> MigrationContext:
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, **opts})


def _read_status(conn: Connection) -> SchemaStatus:
    names = set(inspect(conn).get_table_names())
    ours = frozenset(n for n in names if n.startswith(_PREFIX) and n != VERSION_TABLE)
    head = head_revision()
    heads = _migration_context(conn).get_current_heads() if VERSION_TABLE in names else ()
    if len(heads) > 1:  # the revisions are linear; two heads means someone edited the table
        raise StoreError(
            f"the store at {_safe(conn.engine)} records several schema revisions "
            f"({', '.join(sorted(heads))}); fix {VERSION_TABLE} by hand"
        )
    if heads:
        try:
            _scripts().get_revision(heads[0])
        except CommandError:
            return SchemaStatus(heads[0], head, known=False, tables=ours)
        return SchemaStatus(heads[0], head, tables=ours)
    if not ours:
        return SchemaStatus(None, head)
    missing = BASELINE_TABLES - ours
    if missing:
        raise StoreError(
            f"the store at {_safe(conn.engine)} has some of its tables but not "
            f"{', '.join(sorted(missing))}, and no {VERSION_TABLE}: it was not made by "
            "amperity-ops, or its creation was interrupted; drop its ao_ tables or restore it"
        )
    return SchemaStatus(BASELINE, head, legacy=True, tables=ours)


def schema_status(engine: Engine) -> SchemaStatus:
    """Reads where the store's schema stands, changing nothing.

    Args:
        engine: The store's engine.

    Returns:
        The status (empty, legacy, behind, at head, or ahead).

    Raises:
        StoreError: The store's tables are in no state a migration knows.
        sqlalchemy.exc.OperationalError: The database cannot be reached.
    """
    with engine.connect() as conn:
        return _read_status(conn)


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that no other process migrating this store can enter.

    Postgres: a transaction-scoped advisory lock keyed by the schema the store lives in (two
    stores in two schemas of one database do not wait for each other); DDL is transactional,
    so a failed upgrade leaves nothing behind. SQLite: ``BEGIN IMMEDIATE`` takes the write
    lock at once; other processes wait for it (the engine's busy timeout) rather than fail.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "SELECT pg_advisory_xact_lock(hashtext('amperity_ops.store:' || current_schema()))"
            )
        else:  # pragma: no cover - the store refuses other databases elsewhere too
            conn.begin()
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def _count_rows(conn: Connection, tables: frozenset[str]) -> dict[str, int]:
    return {
        name: int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())
        for name in sorted(tables)
    }


def _run_to_head(conn: Connection, status: SchemaStatus) -> None:
    scripts = _scripts()

    def steps(revision: Any, _context: Any) -> Any:
        # What ``alembic.command.upgrade`` hands its env.py; the step list is Alembic's own.
        return scripts._upgrade_revs("head", revision)

    with EnvironmentContext(_config(), scripts, fn=steps, destination_rev="head") as env:
        env.configure(connection=conn, target_metadata=metadata, version_table=VERSION_TABLE)
        if status.legacy:
            env.get_context().stamp(scripts, BASELINE)
        env.run_migrations()


def _upgrade_locked(conn: Connection) -> UpgradeReport:
    status = _read_status(conn)  # again, under the lock: another process may have done it
    if status.ahead:
        raise StoreError(
            f"the store at {_safe(conn.engine)} is at {status.describe()}: "
            "upgrade amperity-ops instead"
        )
    before = _count_rows(conn, status.tables)
    if not status.at_head:
        _run_to_head(conn, status)
    after = _count_rows(conn, status.tables)
    if after != before:  # never expected; rolled back by _locked, so nothing is lost
        lost = ", ".join(f"{t} {before[t]} -> {after[t]}" for t in before if before[t] != after[t])
        raise StoreError(f"the upgrade of {_safe(conn.engine)} changed row counts ({lost})")
    return UpgradeReport(status.current, status.head, after, before)


def upgrade_schema(engine: Engine) -> UpgradeReport:
    """Takes the store to the head revision, whatever its dialect (``amperity-ops store upgrade``).

    An empty database gets every table; a legacy store is stamped ``0001`` and upgraded; a
    store at head is left alone. Safe to run from many processes at once (see :func:`_locked`).

    Args:
        engine: The store's engine.

    Returns:
        The revisions before and after, and the rows of each table kept.

    Raises:
        StoreError: The store is ahead of this version, or in no state a migration knows.
    """
    with _locked(engine) as conn:
        report = _upgrade_locked(conn)
    if report.changed:
        logger.info(
            "store %s upgraded from %s to %s",
            _safe(engine),
            report.from_revision or "empty",
            report.to_revision,
        )
    return report


def upgrades_automatically(engine: Engine, status: SchemaStatus) -> bool:
    """Whether opening the store may upgrade it without being asked (README, "Store upgrades").

    An empty database holds nothing to lose; a SQLite file is local and has one user (the
    demo, a laptop). A shared Postgres store with data is upgraded only by
    ``amperity-ops store upgrade``, run deliberately before a new version is rolled out.
    """
    return status.empty or engine.dialect.name == "sqlite"


def prepare_schema(engine: Engine) -> SchemaStatus:
    """What opening a store does to its schema: create or upgrade it where that is automatic.

    Args:
        engine: The store's engine.

    Returns:
        The status after preparing (at head, or ahead: a newer version upgraded the store,
        whose additive migrations this version can ignore; logged as a warning).

    Raises:
        StoreError: A store behind that is not upgraded automatically; the one-line message
            names the store (password masked) and ``amperity-ops store upgrade``.
    """
    status = schema_status(engine)  # the common case, at head, takes no lock
    if status.ahead:
        logger.warning("store %s is at %s", _safe(engine), status.describe())
        return status
    if status.at_head:
        return status
    if not upgrades_automatically(engine, status):
        raise StoreError(
            f"the store at {_safe(engine)} is at {status.describe()}: "
            f"run `{_UPGRADE_COMMAND}` (with this version) to upgrade it"
        )
    upgrade_schema(engine)
    return schema_status(engine)


def schema_differences(engine: Engine) -> list[Any]:
    """Differences Alembic's autogenerate finds between the store and ``schema.py``.

    Empty when the head revision builds exactly what ``schema.py`` describes; the test suite
    runs this on a fresh store so that a schema edit without a migration fails.

    Args:
        engine: The store's engine (only ``ao_`` tables are compared).

    Returns:
        Alembic's diff entries (e.g. ``("add_column", ...)``), empty when in step.
    """

    def ours(_obj: Any, name: str | None, type_: str, _reflected: bool, _compare: Any) -> bool:
        return type_ != "table" or (name or "").startswith(_PREFIX)

    with engine.connect() as conn:
        context = _migration_context(
            conn, compare_type=True, compare_server_default=True, include_object=ours
        )
        return list(compare_metadata(context, metadata))
