"""A fresh store per test, on SQLite (a tmp file) and on the local Postgres (its own schema)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from amperity_ops.store import Store

PG_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def postgres_schema_url() -> Iterator[str]:
    """Create a uniquely named schema, yield a URL whose search_path is it, drop it afterwards.

    A schema is much cheaper than a database (CREATE DATABASE copies a template) and isolates
    parallel tests just as well: the store creates unqualified tables in the first schema of
    the search path.
    """
    name = f"ao_store_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield f"{PG_DATABASE_URL}?options=-csearch_path%3D{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store: a SQLite file, or a fresh Postgres schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ops.sqlite'}"
    else:
        yield from postgres_schema_url()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open store on ``store_url``."""
    opened = Store.from_url(store_url)
    yield opened
    opened.close()
