"""Fixtures for the deployment tests: the repository root and a throwaway Postgres database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO_ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def repo_root() -> Path:
    """The repository root, where workspace.yaml and dagster.yaml live."""
    return REPO_ROOT


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A Postgres database with a unique name, dropped (with its connections) afterwards."""
    name = f"amperity_ops_deploy_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as err:  # pragma: no cover - depends on the machine
        admin.dispose()
        pytest.fail(f"the local Postgres at 127.0.0.1:5432 is not reachable: {err}")
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
