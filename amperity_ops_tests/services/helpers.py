"""Build an ``OpsRuntime`` over the simulator: in-process transport, simulated clock, real store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from amperity_ops.client import WorkflowRun
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.settings import OpsConfig
from amperity_ops.simulator import IN_PROCESS_BASE_URL, ManualClock, Simulator
from amperity_ops.testing import simulated_runtime

TENANT = "acme"
TOKEN = "test-token"
GHOST_RUN_ID = "wf-20261031-00001-GHOST1"

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
    return simulated_runtime(
        sim, clock, config=config or make_config(), store_url=store_url, token=TOKEN
    )


def remember_ghost_run(runtime: OpsRuntime, *, age: timedelta = timedelta(hours=3)) -> WorkflowRun:
    """Records in the store a running run the simulator never had: every read of it is a 404.

    The store knew it (a poll saw it ``age`` ago), so the services call it vanished.
    """
    ghost = WorkflowRun.model_validate(
        {
            "id": GHOST_RUN_ID,
            "state": "running",
            "type": "courier.group/run",
            "name": "Ghost",
            "tenant": TENANT,
            "created_at": (runtime.clock() - age).isoformat(),
        }
    )
    runtime.store.upsert_runs(TENANT, [ghost], seen_at=runtime.clock())
    return ghost
