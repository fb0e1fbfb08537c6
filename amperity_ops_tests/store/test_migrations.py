"""Store migrations: a store made before migrations upgrades in place, rows and all.

Every test runs on SQLite and on the local Postgres (its own schema). "A store made by an older
version" is built from :mod:`schema_before_migrations`, a frozen copy of the DDL that
``metadata.create_all`` produced before migrations existed, and filled with rows of every table.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, inspect, select, text

from amperity_ops.store import (
    Store,
    StoreError,
    head_revision,
    make_engine,
    schema_status,
    upgrade_schema,
)
from amperity_ops.store.migrate import BASELINE, VERSION_TABLE, schema_differences
from amperity_ops_tests.store import schema_before_migrations as old
from amperity_ops_tests.store.conftest import postgres_schema_url
from amperity_ops_tests.store.legacy_store import REQUESTERS, T0, make_legacy_store, old_rows


def _by_key(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Sorted in Python: Postgres' collation may order text keys differently.
    keys = [c.name for c in table.primary_key.columns]
    return sorted(rows, key=lambda row: tuple(row[k] for k in keys))


def _expected() -> dict[str, list[dict[str, Any]]]:
    return {table.name: _by_key(table, rows) for table, rows in old_rows().items()}


def _read_old_columns(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, only the columns the old schema had, in key order."""
    with engine.connect() as conn:
        return {
            table.name: _by_key(table, [dict(row._mapping) for row in conn.execute(select(table))])
            for table in old.metadata.sorted_tables
        }


@pytest.fixture
def legacy_url(store_url: str) -> str:
    """A store made by amperity-ops before migrations, with rows in every table."""
    return make_legacy_store(store_url)


@pytest.fixture
def other_url(store_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty store of the same kind as ``store_url`` (another file or schema)."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.sqlite'}"
    else:
        yield from postgres_schema_url()


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """An engine on ``store_url`` (disposed afterwards)."""
    made = make_engine(store_url)
    yield made
    made.dispose()


def test_a_store_made_before_migrations_upgrades_keeping_every_row(legacy_url: str) -> None:
    """Upgrading today's store keeps every row and column; requesters are backfilled."""
    engine = make_engine(legacy_url)
    try:
        before = _read_old_columns(engine)
        assert before == _expected()  # the rows went in, and read back as written
        status = schema_status(engine)
        assert (status.current, status.legacy, status.behind) == (BASELINE, True, True)

        report = upgrade_schema(engine)

        assert (report.from_revision, report.to_revision) == (BASELINE, head_revision())
        assert report.rows == {name: len(rows) for name, rows in before.items()}
        assert _read_old_columns(engine) == before
        with engine.connect() as conn:
            typed = conn.execute(text(
                "SELECT requested_by, requester_kind, requester_name FROM ao_stop_ledger "
                "ORDER BY id"
            )).all()
        assert {by: (kind, name) for by, kind, name in typed} == REQUESTERS
        assert schema_status(engine).at_head
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


def test_the_upgraded_store_works_and_keeps_numbering_ids(legacy_url: str) -> None:
    """After the upgrade the Store reads the old rows and appends after the old ids."""
    engine = make_engine(legacy_url)
    upgrade_schema(engine)
    store = Store(engine)
    try:
        assert store.count_runs("acme") == 5
        new_id = store.record_stop(
            run_key="acme/wf-9", tenant="acme", workflow_id="wf-9", requested_by="cli dave",
            reason="test", dry_run=False, requested_at=T0 + timedelta(days=1),
        )
        assert new_id == len(REQUESTERS) + 1
        assert [r.requested_by for r in store.stop_records("acme")][-1] == (
            "sensor amperity_workflow_sla_sensor"
        )
    finally:
        store.close()


def test_upgrade_is_idempotent(legacy_url: str) -> None:
    """A second upgrade changes nothing and says so."""
    engine = make_engine(legacy_url)
    try:
        first = upgrade_schema(engine)
        rows = _read_old_columns(engine)
        again = upgrade_schema(engine)
        assert first.changed
        assert not again.changed
        assert (again.from_revision, again.to_revision) == (head_revision(), head_revision())
        # Tables a revision added (empty) are counted the second time, as existing ones.
        assert {name: again.rows[name] for name in first.rows} == first.rows
        assert all(again.rows[name] == 0 for name in again.rows.keys() - first.rows.keys())
        assert _read_old_columns(engine) == rows
        with engine.connect() as conn:
            versions = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        assert [v for (v,) in versions] == [head_revision()]
    finally:
        engine.dispose()


def test_a_fresh_store_is_at_head_with_its_version_table_beside_the_tables(
    store_url: str, engine: Engine
) -> None:
    """First use creates every table at head; the version table is ours, in the store's schema."""
    assert schema_status(engine).empty
    Store.from_url(store_url).close()
    status = schema_status(engine)
    assert (status.current, status.legacy, status.at_head) == (head_revision(), False, True)
    names = set(inspect(engine).get_table_names())  # the search-path schema on Postgres
    assert {VERSION_TABLE, *old.metadata.tables} <= names
    assert "alembic_version" not in names  # Dagster's storage may own that name


def test_head_revision_builds_exactly_what_schema_py_describes(
    store_url: str, engine: Engine
) -> None:
    """Autogenerate finds no difference between a fresh store and schema.py's metadata."""
    Store.from_url(store_url).close()
    assert schema_differences(engine) == []


def test_the_schema_comparison_sees_a_missing_migration(legacy_url: str) -> None:
    """Today's tables lack 0002's columns; the comparison names exactly those."""
    engine = make_engine(legacy_url)
    try:
        found = schema_differences(engine)
    finally:
        engine.dispose()
    # Tables later revisions create (0003 and on) are missing too, with their indexes; since
    # 0005 the legacy stop ledger also lacks the index of unfinished stops (named below).
    later = {"ao_silences", "ao_reported_events", "ao_slack_messages"}
    whole = [d for d in found if (d[0] == "add_table" and d[1].name in later)
             or (d[0] == "add_index" and d[1].table.name in later)]
    found = [d for d in found if d not in whole]
    added = sorted((d[0], d[2], d[3].name) for d in found if d[0] == "add_column")
    assert added == [
        ("add_column", "ao_stop_ledger", "launched_as"),  # 0007
        ("add_column", "ao_stop_ledger", "requester_kind"),
        ("add_column", "ao_stop_ledger", "requester_name"),
    ]
    indexes = sorted(d[1].name for d in found if d[0] == "add_index")
    assert indexes == ["ao_stops_unfinished"]
    assert len(found) == len(added) + len(indexes)


def _reflect(engine: Engine) -> dict[str, Any]:
    """Columns (type, nullability, default), keys, indexes and unique constraints per table."""
    found = inspect(engine)
    return {
        name: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in found.get_columns(name)
            ],
            "pk": found.get_pk_constraint(name)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in found.get_indexes(name)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"])) for u in found.get_unique_constraints(name)
            ),
        }
        for name in sorted(old.metadata.tables)
    }


def test_baseline_plus_0002_is_todays_schema_plus_the_two_columns(
    store_url: str, engine: Engine, other_url: str
) -> None:
    """Revision 0001 builds today's tables exactly; 0002 only adds the requester columns.

    (0005 adds an index and 0007 one more nullable column to the ledger, set apart below.)
    """
    Store.from_url(store_url).close()
    migrated = _reflect(engine)
    ledger = migrated["ao_stop_ledger"]["columns"]
    added = [c for c in ledger if c[0] in ("requester_kind", "requester_name", "launched_as")]
    assert [c[0] for c in added] == ["requester_kind", "requester_name", "launched_as"]  # 0007
    assert all(nullable for _, _, nullable, _ in added)
    migrated["ao_stop_ledger"]["columns"] = [c for c in ledger if c not in added]
    # 0005 only adds the partial index of unfinished stops.
    indexes = migrated["ao_stop_ledger"]["indexes"]
    assert ("ao_stops_unfinished", ("requested_at",), False) in indexes
    migrated["ao_stop_ledger"]["indexes"] = [i for i in indexes if i[0] != "ao_stops_unfinished"]
    today = make_engine(other_url)
    try:
        old.metadata.create_all(today)
        assert migrated == _reflect(today)
    finally:
        today.dispose()


def test_a_sqlite_store_behind_is_upgraded_at_first_use(tmp_path: Path) -> None:
    """SQLite is local and single-user: opening today's file upgrades it in place."""
    url = make_legacy_store(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    store = Store.from_url(url)
    try:
        assert schema_status(store.engine).at_head
        assert store.count_runs("acme") == 5
    finally:
        store.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty Postgres store in its own schema."""
    yield from postgres_schema_url()


@pytest.mark.postgres
def test_a_postgres_store_behind_is_refused_naming_the_command(postgres_url: str) -> None:
    """A shared Postgres store is upgraded explicitly; opening it says how, password masked."""
    legacy_url = make_legacy_store(postgres_url)
    with_password = legacy_url.replace("postgres@", "postgres:hunter2@")  # trust auth ignores it
    with pytest.raises(StoreError) as info:
        Store.from_url(with_password)
    message = str(info.value)
    assert "\n" not in message
    assert "hunter2" not in message
    assert "postgres:***@127.0.0.1" in message
    assert "amperity-ops store upgrade" in message
    assert "revision 0001" in message
    engine = make_engine(legacy_url)
    try:
        assert schema_status(engine).legacy  # untouched: still no version table
    finally:
        engine.dispose()


def test_a_store_from_a_newer_version_opens_but_is_not_upgraded(
    store_url: str, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A revision this version does not know: opening warns, upgrading refuses."""
    Store.from_url(store_url).close()
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    with caplog.at_level(logging.WARNING, logger="amperity_ops.store.migrate"):
        Store.from_url(store_url).close()
    assert "9999, newer than this version's head" in caplog.text
    assert schema_status(engine).ahead
    with pytest.raises(StoreError, match="upgrade amperity-ops instead"):
        upgrade_schema(engine)


def test_half_made_tables_are_refused_not_stamped(store_url: str, engine: Engine) -> None:
    """Some of today's tables but not all, and no version table: a clear error, no guess."""
    old.workflow_runs.create(engine)
    with pytest.raises(StoreError, match="ao_alert_outbox") as info:
        Store.from_url(store_url)
    assert "\n" not in str(info.value)


def _open_store(url: str, barrier: Any, results: Any) -> None:
    """One of the racing processes: wait for the others, then open the empty store."""
    barrier.wait(timeout=60)
    try:
        Store.from_url(url).close()
    except Exception as err:  # reported to the parent, which fails the test
        results.put(f"{type(err).__name__}: {err}")
        raise
    results.put("ok")


@pytest.mark.slow
def test_eight_processes_opening_an_empty_store_at_once_all_succeed(
    store_url: str, engine: Engine
) -> None:
    """First use is race-free: 8 processes released together all open the store."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(8)
    results = context.Queue()
    processes = [
        context.Process(target=_open_store, args=(store_url, barrier, results))
        for _ in range(8)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert outcomes == ["ok"] * 8
    assert [process.exitcode for process in processes] == [0] * 8
    assert schema_status(engine).at_head
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar_one() == 1
