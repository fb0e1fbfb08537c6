"""``amperity-ops catalog refresh``: learn each tenant's workflows and tables for Dagster."""

from __future__ import annotations

from pathlib import Path

import click

from amperity_ops.cli._context import CliContext, make_console

__all__ = ["catalog"]


@click.group()
def catalog() -> None:
    """The catalog of Amperity workflows and tables the Dagster asset graph is built from."""


@catalog.command()
@click.option("--days", type=click.IntRange(min=1), default=30, show_default=True,
              help="Learn from this many days of workflow runs and ingest jobs.")
@click.option("--tenant", "tenant_name", default=None, help="Only this tenant (name or id).")
@click.option("--dir", "catalog_dir", type=click.Path(path_type=Path, file_okay=False),
              envvar="AMPERITY_OPS_CATALOG_DIR", show_envvar=True, default=None,
              help="Where to write (default: $DAGSTER_HOME/amperity_catalog).")
@click.pass_obj
def refresh(obj: CliContext, days: int, tenant_name: str | None,
            catalog_dir: Path | None) -> None:
    """Read recent runs and ingest jobs (within each tenant's rate budget) and write the catalog
    the Dagster code location loads. Reload the code location afterwards."""
    from amperity_ops.services.catalog import (
        CatalogRefreshError,
        default_catalog_dir,
        describe,
        refresh_catalog,
    )

    runtime = obj.runtime
    directory = catalog_dir or default_catalog_dir()
    console = make_console()
    try:
        written = refresh_catalog(runtime, days=days, tenant=tenant_name, catalog_dir=directory)
    except CatalogRefreshError as err:
        for line in describe(err.written):
            console.print(line, soft_wrap=True)
        raise click.ClickException(f"catalog refresh failed: {err}") from None
    for line in describe(written):
        console.print(line, soft_wrap=True)
    console.print(f"written to {directory}; reload the Dagster code location to see them",
                  soft_wrap=True)
