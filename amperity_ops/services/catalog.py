"""The catalog refresh: learn each tenant's workflows and tables from the API, write them down.

``refresh_catalog`` reads each tenant's recent workflow runs and ingest jobs (through the
tenant's own client, so within its rate budget), stores them in the history store (the asset
event sensor then has each workflow's latest run from its first tick), learns the catalog with
:func:`amperity_ops.monitoring.catalog.learn_catalog`, and writes one JSON file per tenant. The
Dagster code location reads those files when it loads (:func:`read_catalogs`) and never calls
the API to do so.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from amperity_ops.monitoring.catalog import Catalog, learn_catalog, merge_known, slugify
from amperity_ops.services.poll import PAGE_SIZE
from amperity_ops.services.tenants import describe_tenant_error

if TYPE_CHECKING:
    from amperity_ops.services.runtime import OpsRuntime

__all__ = [
    "CATALOG_DIR_ENV",
    "DEFAULT_DAYS",
    "REFRESH_HINT",
    "CatalogRefreshError",
    "catalog_path",
    "default_catalog_dir",
    "describe",
    "read_catalog",
    "read_catalogs",
    "refresh_catalog",
    "write_catalog",
]

log = logging.getLogger(__name__)

CATALOG_DIR_ENV = "AMPERITY_OPS_CATALOG_DIR"
"""Where the catalog files are (default ``$DAGSTER_HOME/amperity_catalog``)."""
DEFAULT_DAYS = 30
REFRESH_HINT = "run `amperity-ops catalog refresh`"


class CatalogRefreshError(Exception):
    """A tenant's catalog could not be learned (one line per tenant, no secret).

    Attributes:
        written: The catalogs of the tenants that did succeed (written all the same).
    """

    def __init__(self, message: str, written: Mapping[str, Catalog]) -> None:
        super().__init__(message)
        self.written = dict(written)


def default_catalog_dir() -> Path:
    """``$AMPERITY_OPS_CATALOG_DIR``, else ``$DAGSTER_HOME/amperity_catalog``, else
    ``~/.amperity_ops/amperity_catalog`` (next to the default store)."""
    explicit = os.environ.get(CATALOG_DIR_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("DAGSTER_HOME", "").strip()
    base = Path(home).expanduser() if home else Path.home() / ".amperity_ops"
    return base / "amperity_catalog"


def catalog_path(directory: Path, tenant: str) -> Path:
    """The file of one tenant's catalog: ``<directory>/<tenant slug>.json``."""
    return directory / f"{slugify(tenant)}.json"


def write_catalog(directory: Path, catalog: Catalog) -> Path:
    """Write a catalog atomically (a reader never sees half a file)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = catalog_path(directory, catalog.tenant)
    partial = path.with_suffix(".json.tmp")
    partial.write_text(catalog.model_dump_json(indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def read_catalog(directory: Path, tenant: str) -> Catalog | None:
    """One tenant's catalog, or None if there is none yet or it cannot be read (logged)."""
    path = catalog_path(directory, tenant)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as err:
        log.warning("catalog %s unreadable (%s): %s", path, err, REFRESH_HINT)
        return None
    try:
        catalog = Catalog.model_validate(json.loads(text))
    except (ValueError, ValidationError) as err:
        log.warning("catalog %s is not a catalog (%s): %s", path, str(err).splitlines()[0],
                    REFRESH_HINT)
        return None
    if catalog.tenant != tenant:
        log.warning("catalog %s is for tenant %s, not %s: %s", path, catalog.tenant, tenant,
                    REFRESH_HINT)
        return None
    return catalog


def read_catalogs(directory: Path, tenants: Iterable[str]) -> dict[str, Catalog | None]:
    """Each tenant's catalog (None where there is none yet). No API call."""
    return {name: read_catalog(directory, name) for name in tenants}


def refresh_catalog(
    runtime: OpsRuntime,
    *,
    days: int = DEFAULT_DAYS,
    tenant: str | None = None,
    catalog_dir: Path | None = None,
) -> dict[str, Catalog]:
    """Learn and write the catalog of every tenant (or one).

    Per tenant: one listing of the runs created in the last ``days`` (a request per 100 runs)
    and one ``GET /ingest/jobs`` per 7 days, all through the tenant's client and its budget.
    A workflow known before but not seen in this window stays in the catalog.

    Args:
        runtime: Config, store, clients and clock.
        days: How many days of history to learn from.
        tenant: Only this tenant (its name or tenant id); None: all.
        catalog_dir: Where to write (default :func:`default_catalog_dir`).

    Returns:
        Tenant name -> the catalog written.

    Raises:
        CatalogRefreshError: If any tenant failed (the others are still written); the message
            has one line per failed tenant.
        amperity_ops.settings.UnknownTenantError: If ``tenant`` names no tenant.
    """
    from amperity_ops.client import AmperityError
    from amperity_ops.settings import ConfigError

    if days < 1:
        raise ValueError("days must be at least 1")
    directory = catalog_dir or default_catalog_dir()
    chosen = runtime.tenants if tenant is None else [runtime.tenant(tenant)]
    now = runtime.clock()
    since = now - timedelta(days=days)
    written: dict[str, Catalog] = {}
    errors: dict[str, str] = {}
    for config in chosen:
        try:
            with runtime.client_factory(config) as client:
                runs = list(client.list_workflow_runs(created_from=since, limit=PAGE_SIZE))
                jobs = list(client.list_ingest_jobs(created_from=since, created_to=now))
        except (AmperityError, ConfigError) as err:
            errors[config.name] = describe_tenant_error(config, err)
            continue
        runtime.store.upsert_runs(config.name, runs, seen_at=now)
        runtime.store.upsert_ingest_jobs(config.name, jobs, seen_at=now)
        learned = learn_catalog(config.name, runs, jobs, now=now, days=days)
        catalog = merge_known(learned, read_catalog(directory, config.name))
        path = write_catalog(directory, catalog)
        log.info("catalog %s: %d workflows, %d tables -> %s", config.name,
                 len(catalog.workflows), len(catalog.tables), path)
        written[config.name] = catalog
    if errors:
        raise CatalogRefreshError(
            "; ".join(f"{name}: {line}" for name, line in errors.items())
            + (f" (written: {', '.join(written)})" if written else ""), written)
    return written


def describe(catalogs: Mapping[str, Catalog]) -> list[str]:
    """One line per tenant: what its catalog holds."""
    return [
        f"{name}: {len(c.workflows)} workflows "
        f"({sum(1 for w in c.workflows if w.cadence)} with a learned cadence), "
        f"{len(c.tables)} tables, from {c.days} days"
        for name, c in catalogs.items()
    ]
