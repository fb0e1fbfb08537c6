"""The Component's state: the tenant's catalog and profile indexes, learned outside of load.

Written by ``dg utils refresh-defs-state`` (``AmperityTenantComponent.write_state_to_path``),
read when the code location loads: loading never calls the API. One JSON file::

    {"version": 1, "tenant": "prod", "refreshed_at": "...", "days": 14,
     "catalog": {...},                       # refresh_catalog's Catalog, as JSON
     "indexes": {"idx-xyz789": "loyalty_members"}}

The catalog is ``amperity_ops.services.catalog.refresh_catalog``'s, the same one
``amperity-ops catalog refresh`` writes for the shipped code location.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python

from amperity_ops.monitoring.catalog import Catalog
from amperity_ops.services.catalog import refresh_catalog, write_catalog
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

    def catalog_model(self) -> Catalog | None:
        """The catalog (None if the state holds none or one this version cannot read)."""
        if not self.catalog:
            return None
        try:
            return Catalog.model_validate(self.catalog)
        except ValueError:
            return None


def learn_state(
    runtime: OpsRuntime, *, tenant: str, days: int, previous: TenantState | None = None
) -> TenantState:
    """Read the tenant's catalog and indexes (a few requests, in the tenant's budget).

    The catalog is ``services.catalog.refresh_catalog``'s (as ``amperity-ops catalog
    refresh``); a workflow the previous state knew but this window did not see stays.
    """
    config = runtime.tenant(tenant)
    with tempfile.TemporaryDirectory(prefix="amperity-catalog-") as work:
        directory = Path(work)
        known = previous.catalog_model() if previous is not None else None
        if known is not None:
            write_catalog(directory, known)
        catalog = refresh_catalog(runtime, days=days, tenant=config.name,
                                  catalog_dir=directory)[config.name]
    with runtime.client(config.name) as client:
        indexes = {i.id: i.name for i in read_indexes(client)} if runtime.config.indexes.enabled \
            else {}
    return TenantState(tenant=config.name, refreshed_at=runtime.clock().isoformat(), days=days,
                       catalog=dict(to_jsonable_python(catalog)), indexes=indexes)


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
