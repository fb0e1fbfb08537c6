"""Shared fixtures: one healthy simulated tenant, in-process and over a real socket.

``sim`` is a *quiet* tenant: no scheduled workflows, so a test's runs are exactly the ones it
adds with ``sim.tenant("acme").add_run(...)``. ``living_sim`` is the same tenant with its
schedules on (three days of history, runs starting as ``clock`` advances).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from amperity_ops.simulator import ManualClock, Simulator, TenantSpec

TENANT = "acme"
TOKEN = "test-token"
CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret"


def _spec(*, schedules: bool) -> TenantSpec:
    return TenantSpec(
        tenant_id=TENANT,
        static_tokens=(TOKEN,),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        seed=7,
        schedules=schedules,
    )


@pytest.fixture
def clock() -> ManualClock:
    """Simulated time, moved only by the test (starts 2026-11-01T02:00Z)."""
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock) -> Simulator:
    """A healthy quiet tenant "acme" (token test-token, OAuth test-client/test-secret), 10 rps."""
    return Simulator([_spec(schedules=False)], clock=clock, rate_limit_rps=10.0)


@pytest.fixture
def living_sim(clock: ManualClock) -> Simulator:
    """Tenant "acme" with its workflow schedules on (a living world), limiter off."""
    return Simulator([_spec(schedules=True)], clock=clock, rate_limit_rps=None)


@pytest.fixture
def sim_server(sim: Simulator) -> Iterator[str]:
    """The ``sim`` fixture served over a real socket; the value is ``http://127.0.0.1:PORT/api``."""
    with sim.serve() as base_url:
        yield base_url
