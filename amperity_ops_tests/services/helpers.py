"""Build an ``OpsRuntime`` over the simulator: in-process transport, simulated clock, real store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from amperity_ops.client import AmperityClient
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.settings import OpsConfig, TenantConfig
from amperity_ops.simulator import IN_PROCESS_BASE_URL, ManualClock, Simulator
from amperity_ops.store import Store

TENANT = "acme"
TOKEN = "test-token"

STOP_POLICY: dict[str, Any] = {
    "name": "courier-groups",
    "match": {"name": "Courier Group*"},
    "warn_after": "90m",
    "max_runtime": "2h",
    "action": "stop",
}


def make_config(
    *,
    policies: list[dict[str, Any]] | None = None,
    auto_stop: dict[str, Any] | None = None,
    tenants: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> OpsConfig:
    """A policy file as Python: one stop policy, auto-stop on, a log sink, tenant acme."""
    return OpsConfig.model_validate(
        {
            "policies": [STOP_POLICY] if policies is None else policies,
            "auto_stop": {"enabled": True, "dry_run": False, "max_stops_per_hour": 5}
            | (auto_stop or {}),
            "alerts": [{"kind": "log"}],
            "tenants": tenants
            or [
                {
                    "name": TENANT,
                    "tenant_id": TENANT,
                    "base_url": IN_PROCESS_BASE_URL,
                    "access_token": TOKEN,
                    "app_url": "https://acme.amperity.example",
                }
            ],
            **extra,
        }
    )


def sqlite_url(tmp_path: Path, name: str = "store.sqlite") -> str:
    """A fresh SQLite store file for one test."""
    return f"sqlite:///{tmp_path / name}"


def make_runtime(
    sim: Simulator,
    clock: ManualClock,
    store_url: str,
    config: OpsConfig | None = None,
) -> OpsRuntime:
    """A runtime whose clients talk to ``sim`` in-process and whose time is ``clock``."""
    transport = sim.transport()

    def factory(tenant: TenantConfig) -> AmperityClient:
        return AmperityClient(
            tenant.tenant_id,
            base_url=IN_PROCESS_BASE_URL,
            access_token=TOKEN,
            transport=transport,
            rate_limit_rps=None,
            clock=clock.now,
        )

    def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    return OpsRuntime(
        config=config or make_config(),
        store=Store.from_url(store_url),
        client_factory=factory,
        clock=clock.now,
        sleep=sleep,
    )
