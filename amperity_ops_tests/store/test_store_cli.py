"""`amperity-ops store upgrade|status` and doctor's store check."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from amperity_ops.cli import cli
from amperity_ops.store import head_revision, make_engine, schema_status
from amperity_ops_tests.store.conftest import postgres_schema_url
from amperity_ops_tests.store.legacy_store import REQUESTERS, make_legacy_store


def run_cli(*args: str) -> Result:
    """Invokes ``amperity-ops`` in-process (stdout and stderr apart)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No tenant and no policy file: only the store is configured (by each test)."""
    for name in ("AMPERITY_TENANT_ID", "AMPERITY_ACCESS_TOKEN", "AMPERITY_CLIENT_ID",
                 "AMPERITY_CLIENT_SECRET", "AMPERITY_BASE_URL", "AMPERITY_OPS_CONFIG",
                 "AMPERITY_OPS_DEBUG", "AMPERITY_APP_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def legacy_postgres(env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Postgres store made before migrations; the variable's URL carries a password."""
    for url in postgres_schema_url():
        make_legacy_store(url)
        monkeypatch.setenv(
            "AMPERITY_OPS_STORE_URL", url.replace("postgres@", "postgres:hunter2@")
        )
        yield url


def _store_line(result: Result) -> str:
    (line,) = [line for line in result.stdout.splitlines() if "history store" in line]
    return line


@pytest.mark.postgres
def test_store_upgrade_prints_the_revisions_and_the_rows_kept(legacy_postgres: str) -> None:
    """upgrade says 0001 -> head and each table's rows; the store is then at head."""
    result = run_cli("store", "upgrade")
    assert result.exit_code == 0, result.output
    first, *tables = result.stdout.strip().splitlines()
    assert first.endswith(f": 0001 -> {head_revision()}")
    assert "postgres:***@127.0.0.1" in first
    assert f"  ao_stop_ledger    {len(REQUESTERS)} rows kept" in tables
    assert "  ao_workflow_runs  5 rows kept" in tables
    assert len(tables) == 7
    assert "hunter2" not in result.output
    engine = make_engine(legacy_postgres)
    try:
        assert schema_status(engine).at_head
    finally:
        engine.dispose()
    again = run_cli("store", "upgrade")
    assert again.exit_code == 0, again.output
    assert f"already at {head_revision()} (head), nothing to do" in again.stdout


@pytest.mark.postgres
def test_store_status_exits_1_while_behind(legacy_postgres: str) -> None:
    """status shows revision against head, and fails naming the command until upgraded."""
    behind = run_cli("store", "status")
    assert behind.exit_code == 1
    assert f"revision 0001 (created before migrations), head {head_revision()}" in behind.stdout
    assert behind.stderr.strip() == (
        "Error: the store needs upgrading: run `amperity-ops store upgrade`"
    )
    assert run_cli("store", "upgrade").exit_code == 0
    after = run_cli("store", "status")
    assert after.exit_code == 0, after.output
    assert f"revision {head_revision()} (head)" in after.stdout


@pytest.mark.postgres
def test_doctor_fails_a_postgres_store_that_needs_upgrading(legacy_postgres: str) -> None:
    """doctor names current and head revisions and the command, and leaves the store alone."""
    result = run_cli("doctor")
    assert result.exit_code == 1
    line = _store_line(result)
    assert line.startswith("fail")
    assert f"revision 0001 (created before migrations), head {head_revision()}" in line
    assert "run `amperity-ops store upgrade`" in line
    assert "hunter2" not in result.output
    engine = make_engine(legacy_postgres)
    try:
        assert schema_status(engine).legacy
    finally:
        engine.dispose()


def test_doctor_warns_of_a_sqlite_store_behind_without_upgrading_it(
    env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SQLite store behind upgrades at first use: a warning naming the command, no change."""
    url = make_legacy_store(f"sqlite:///{tmp_path}/ops.sqlite")
    monkeypatch.setenv("AMPERITY_OPS_STORE_URL", url)
    line = _store_line(run_cli("doctor"))
    assert line.startswith("warn")
    assert "upgraded at first use, or run `amperity-ops store upgrade`" in line
    engine = make_engine(url)
    try:
        assert schema_status(engine).legacy
    finally:
        engine.dispose()


def test_doctor_is_ok_with_a_store_at_head(
    env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store at head (here: created by doctor's first use) is an ok line, as before."""
    monkeypatch.setenv("AMPERITY_OPS_STORE_URL", f"sqlite:///{tmp_path}/ops.sqlite")
    line = _store_line(run_cli("doctor"))
    assert re.match(r"ok\s+history store\s+sqlite:///", line), line


def test_store_upgrade_of_an_unreachable_store_is_one_line(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that cannot be reached is one line on stderr, password masked, exit 1."""
    monkeypatch.setenv(
        "AMPERITY_OPS_STORE_URL", "postgresql+psycopg2://ops:hunter2@127.0.0.1:1/ops"
    )
    result = run_cli("store", "upgrade")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: history store error:")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "hunter2" not in result.output
