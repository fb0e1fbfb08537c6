"""Fixtures: a store on a tmp SQLite file, a receiver app, sinks pointed at it."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # Starlette 1.x nags about httpx in its TestClient; the TestClient is still an
    # httpx.Client, which is exactly what the sinks take.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from amperity_ops.core import AlertLevel, AlertMessage, dedup_key
from amperity_ops.store import Store
from amperity_ops_tests.alerts.receiver import Receiver

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def message(run_id: str = "wf-1", level: AlertLevel = AlertLevel.WARNING) -> AlertMessage:
    """A message like the SLA tick makes, with numbers and a link."""
    return AlertMessage(
        tenant="acme", workflow_id=run_id, workflow_name="Courier Group Nightly", level=level,
        title=f"{level.value.upper()}: Courier Group Nightly has run 2h 05m",
        text="Courier Group Nightly has run 2h 05m", dedup_key=dedup_key("acme", run_id),
        raised_at=T0, state="running", runtime_s=7500.0, warn_after_s=5400.0,
        max_runtime_s=7200.0, over_by_s=300.0, sla_source="policy:courier",
        link=f"https://acme.amperity.test/#/workflows/{run_id}",
        facts=(("Runtime", "2h 05m"), ("Max runtime", "2h 00m"), ("Run", run_id)),
    )


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ops.sqlite'}"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.from_url(store_url)
    yield opened
    opened.close()


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def http(receiver: Receiver) -> Iterator[TestClient]:
    """An httpx.Client whose every request is served by the receiver app, in-process."""
    with TestClient(receiver.app(), raise_server_exceptions=True) as client:
        yield client
