"""Fixtures for the services: a quiet simulated tenant without a rate limit, and a runtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops_tests.services.helpers import make_runtime, sqlite_url


@pytest.fixture
def quiet_sim(sim: Simulator) -> Simulator:
    """The shared ``sim`` tenant with its 429 limiter off (tests count requests, not waits)."""
    sim.set_rate_limit(None)
    return sim


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A SQLite store file private to the test."""
    return sqlite_url(tmp_path)


@pytest.fixture
def runtime(quiet_sim: Simulator, clock: ManualClock, store_url: str) -> OpsRuntime:
    """An OpsRuntime over the simulator with the default test policy (stop after 2h)."""
    return make_runtime(quiet_sim, clock, store_url)
