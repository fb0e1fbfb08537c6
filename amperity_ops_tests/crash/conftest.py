"""What the crash tests share: tenant acme on a real socket, on a clock that starts now.

The processes these tests start and kill read time from the simulator or the system clock, so
``now_clock`` starts at the real now (the suite's ``clock`` is a fixed instant).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from amperity_ops.simulator import ManualClock, Simulator, TenantSpec

TENANT, TOKEN = "acme", "test-token"


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def now_clock() -> ManualClock:
    """Simulated time from the real now."""
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def served(now_clock: ManualClock) -> Iterator[tuple[Simulator, str]]:
    """Tenant acme on a real socket, on ``now_clock``, no rate limit."""
    sim = Simulator([TenantSpec(tenant_id=TENANT, static_tokens=(TOKEN,), seed=5,
                                schedules=False)], clock=now_clock, rate_limit_rps=None)
    with sim.serve() as base_url:
        yield sim, base_url
