"""Small helpers for the simulator's own tests."""

from __future__ import annotations

from amperity_ops.simulator import Simulator

HEADERS_2024 = {"amperity-tenant": "acme", "api-version": "2024-04-01",
                "authorization": "Bearer test-token"}


def unlimited(sim: Simulator) -> Simulator:
    """Turn the rate limiter off (tests that make many requests quickly)."""
    sim.set_rate_limit(None)
    return sim
