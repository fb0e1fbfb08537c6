"""``amperity-ops store upgrade|status``: the history store's schema revision, and upgrading it.

Opening a store upgrades it automatically only where README's "Store upgrades" says so (an
empty database, a SQLite file); a Postgres store with data is upgraded here, deliberately,
before a new version of amperity-ops is rolled out.
"""

from __future__ import annotations

import click

from amperity_ops.cli._context import make_console

__all__ = ["store"]

_UPGRADE = "amperity-ops store upgrade"


def _store_url() -> str:
    from amperity_ops.settings import OpsSettings

    return OpsSettings().store_url


@click.group()
def store() -> None:
    """Show or upgrade the history store's schema (AMPERITY_OPS_STORE_URL)."""


@store.command()
def upgrade() -> None:
    """Upgrade the store's schema to this version's head revision, keeping every row.

    Safe to repeat and to run from several processes at once (they wait for each other).
    Prints the revisions before and after, and the rows each table kept.
    """
    from amperity_ops.store import make_engine, safe_url, upgrade_schema

    url = _store_url()
    engine = make_engine(url)
    try:
        report = upgrade_schema(engine)
    finally:
        engine.dispose()
    console = make_console()
    before = report.from_revision or "empty"
    if report.changed:
        console.print(f"{safe_url(url)}: {before} -> {report.to_revision}", soft_wrap=True)
    else:
        console.print(
            f"{safe_url(url)}: already at {report.to_revision} (head), nothing to do",
            soft_wrap=True,
        )
    width = max([0, *(len(name) for name in report.rows)])
    for name, rows in report.rows.items():
        console.print(f"  {name:<{width}}  {rows} rows kept", soft_wrap=True)


@store.command()
def status() -> None:
    """Show the store's schema revision against this version's head; exit 1 if behind."""
    from amperity_ops.store import make_engine, safe_url, schema_status

    url = _store_url()
    engine = make_engine(url)
    try:
        found = schema_status(engine)
    finally:
        engine.dispose()
    make_console().print(f"{safe_url(url)}: {found.describe()}", soft_wrap=True)
    if found.behind:
        raise click.ClickException(f"the store needs upgrading: run `{_UPGRADE}`")
