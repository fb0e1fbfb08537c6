"""Shared set-up of the sensor benchmarks: simulated tenants, a store, an OpsRuntime."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.settings import OpsConfig
from amperity_ops.simulator import ManualClock, Simulator, TenantSpec
from amperity_ops.testing import simulated_runtime

TOKEN = "bench-token"

# The log sink writes every alert at WARNING; a benchmark only counts them.
logging.getLogger("amperity_ops").setLevel(logging.CRITICAL)

POLICIES: list[dict[str, Any]] = [
    {
        "name": "courier-groups",
        "match": {"name": "Courier Group*"},
        "warn_after": "90m",
        "max_runtime": "2h",
        "action": "stop",
    },
    {"name": "everything-else", "match": {"name": "*"}, "warn_after": "3h", "max_runtime": "6h"},
]


def make_sim(tenants: Sequence[str], clock: ManualClock, *, schedules: bool = False) -> Simulator:
    """Simulated tenants with the 429 limiter off (benchmarks measure our work, not waits)."""
    specs = [
        TenantSpec(tenant_id=t, static_tokens=(TOKEN,), seed=7 + i, schedules=schedules)
        for i, t in enumerate(tenants)
    ]
    return Simulator(specs, clock=clock, rate_limit_rps=None)


def make_runtime(
    sim: Simulator,
    clock: ManualClock,
    tenants: Sequence[str],
    *,
    store_url: str | None = None,
    auto_stop: dict[str, Any] | None = None,
    policies: list[dict[str, Any]] | None = None,
) -> OpsRuntime:
    """An OpsRuntime over ``sim`` (in-process), its clock, a fresh SQLite store, a log sink."""
    config = OpsConfig.model_validate(
        {
            "policies": POLICIES if policies is None else policies,
            "auto_stop": {"enabled": True, "max_stops_per_hour": 1000} | (auto_stop or {}),
            # (1000: the latency benchmark stops every run it breaches; sensor_scale passes its own)
            "alerts": [{"kind": "log"}],
            "tenants": [{"name": t, "tenant_id": t, "access_token": TOKEN} for t in tenants],
        }
    )
    if store_url is None:
        store_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-store-')) / 'store.sqlite'}"
    return simulated_runtime(sim, clock, config=config, store_url=store_url, token=TOKEN)


def requests_by_tenant(sim: Simulator, tenants: Sequence[str]) -> dict[str, int]:
    """Answered API requests per tenant so far (the simulator's request log)."""
    return {t: sim.request_log(t).total for t in tenants}


def reset_logs(sim: Simulator, tenants: Sequence[str]) -> None:
    """Forget the request counts of every tenant."""
    for t in tenants:
        sim.request_log(t).reset()
