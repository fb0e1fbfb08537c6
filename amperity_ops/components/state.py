"""The Component's state: the tenant's catalog and profile indexes, learned outside of load.

Written by ``dg utils refresh-defs-state`` (``AmperityTenantComponent.write_state_to_path``),
read when the code location loads: loading never calls the API. One JSON file::

    {"version": 1, "tenant": "prod", "refreshed_at": "...", "days": 14,
     "catalog": {...},                       # refresh_catalog's Catalog, as JSON
     "indexes": {"idx-xyz789": "loyalty_members"}}

The catalog comes from ``amperity_ops.services.catalog.refresh_catalog`` (the asset-graph part
of issue 8). Until that lands, :func:`_learn_catalog` reads the same facts in a simpler form
(workflows by name and type, tables and the workflow that loads them); the lead replaces it at
merge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python

from amperity_ops.services.indexes import read_indexes
from amperity_ops.services.runtime import OpsRuntime

__all__ = ["STATE_VERSION", "TenantState", "learn_state", "read_state", "write_state"]

STATE_VERSION = 1


@dataclass(frozen=True)
class TenantState:
    """What the Component learned about its tenant at the last refresh."""

    tenant: str
    refreshed_at: str
    days: int
    catalog: dict[str, Any] = field(default_factory=dict)
    indexes: dict[str, str] = field(default_factory=dict)
    """Profile index id -> name."""

    @property
    def workflows(self) -> list[dict[str, Any]]:
        """``[{"name", "type", "config_id"?}]`` as the catalog lists them."""
        return list(self.catalog.get("workflows", []))

    @property
    def tables(self) -> list[dict[str, Any]]:
        """``[{"name", "workflow"?}]``: ingest tables and the workflow that loads each."""
        return list(self.catalog.get("tables", []))


def learn_state(runtime: OpsRuntime, *, tenant: str, days: int) -> TenantState:
    """Read the tenant's catalog and indexes (a few requests, in the tenant's budget)."""
    config = runtime.tenant(tenant)
    catalog = _refresh_catalog(runtime, tenant=config.name, days=days)
    with runtime.client(config.name) as client:
        indexes = {i.id: i.name for i in read_indexes(client)} if runtime.config.indexes.enabled \
            else {}
    return TenantState(tenant=config.name, refreshed_at=runtime.clock().isoformat(), days=days,
                       catalog=catalog, indexes=indexes)


def _refresh_catalog(runtime: OpsRuntime, *, tenant: str, days: int) -> dict[str, Any]:
    try:
        from amperity_ops.services.catalog import refresh_catalog
    except ImportError:  # the asset-graph branch is not merged yet
        return _learn_catalog(runtime, tenant=tenant, days=days)
    catalogs = refresh_catalog(runtime, days=days, tenant=tenant)
    return dict(to_jsonable_python(catalogs[tenant]))


def _learn_catalog(runtime: OpsRuntime, *, tenant: str, days: int) -> dict[str, Any]:
    """Workflows (name, type) from recent runs; tables and their loading workflow from ingest."""
    since = runtime.clock() - timedelta(days=days)
    workflows: dict[str, dict[str, Any]] = {}
    names_by_run: dict[str, str] = {}
    tables: dict[str, dict[str, Any]] = {}
    with runtime.client(tenant) as client:
        for run in client.list_workflow_runs(created_from=since, limit=100):
            names_by_run[run.id] = run.name
            entry = workflows.setdefault(run.name, {"name": run.name, "type": run.type})
            config_id = (run.model_extra or {}).get("config_id")
            if config_id:
                entry["config_id"] = config_id
        for job in client.list_ingest_jobs(created_from=since):
            for feed in job.tables:
                table = tables.setdefault(feed.table_name, {"name": feed.table_name})
                if job.workflow_id in names_by_run:
                    table["workflow"] = names_by_run[job.workflow_id]
    return {"workflows": sorted(workflows.values(), key=lambda w: w["name"]),
            "tables": sorted(tables.values(), key=lambda t: t["name"])}


def write_state(state: TenantState, path: Path) -> None:
    """Write the state file (JSON, stable order: diffs of refreshed state stay readable)."""
    body = {"version": STATE_VERSION, "tenant": state.tenant, "refreshed_at": state.refreshed_at,
            "days": state.days, "catalog": state.catalog, "indexes": state.indexes}
    path.write_text(json.dumps(body, indent=1, sort_keys=True), encoding="utf-8")


def read_state(path: Path | None) -> TenantState | None:
    """The state at ``path``; None when there is none yet or it is from another version.

    Raises:
        ValueError: If the file is not a state file this version can read.
    """
    if path is None or not path.is_file():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ValueError(f"{path}: not a state file ({err}); run `dg utils "
                         "refresh-defs-state` again") from None
    if body.get("version") != STATE_VERSION:
        return None
    return TenantState(tenant=body["tenant"], refreshed_at=body["refreshed_at"],
                       days=int(body["days"]), catalog=dict(body.get("catalog") or {}),
                       indexes=dict(body.get("indexes") or {}))
