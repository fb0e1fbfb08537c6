"""Builders for pure-monitoring tests: runs and configs without any I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from amperity_ops.client.models import WorkflowRun
from amperity_ops.settings import OpsConfig

NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def run(
    run_id: str = "wf-1",
    *,
    name: str = "Courier Group Nightly",
    type_: str = "courier.group/run",
    state: str = "running",
    runtime: timedelta = timedelta(minutes=10),
    ended: bool = False,
    warn_after_ms: int | None = None,
) -> WorkflowRun:
    """A run that started ``runtime`` before NOW (and ended at NOW if ``ended``)."""
    return WorkflowRun(
        id=run_id, state=state, type=type_, name=name, tenant="acme",  # type: ignore[arg-type]
        created_at=NOW - runtime, ended_at=NOW if ended else None, warn_after_ms=warn_after_ms,
    )


def config(**sections: Any) -> OpsConfig:
    """An OpsConfig with one tenant 'acme' (app_url set) plus the given sections."""
    data = {"tenants": [{"tenant_id": "acme", "access_token": "x",
                         "app_url": "https://acme.amperity.test"}]}
    data.update(sections)
    return OpsConfig.model_validate(data)


STOP_POLICY = {"name": "courier", "match": {"name": "Courier Group*"},
               "warn_after": "90m", "max_runtime": "2h", "action": "stop"}
