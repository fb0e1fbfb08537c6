"""The ``amperity-ops`` command line.

::

    amperity-ops [--config POLICY.yaml] runs list [--state S] [--since 24h] [--tenant T] [--limit N]
    amperity-ops runs stop WORKFLOW_ID --reason TEXT [--dry-run] [--tenant T]
    amperity-ops backfill --since 30d [--tenant T]
    amperity-ops doctor
    amperity-ops alerts silence (RUN_ID | --workflow GLOB) --for 2h --reason TEXT [--hold-stops]
    amperity-ops alerts list | unsilence ID
    amperity-ops store upgrade | status
    amperity-ops catalog refresh [--days N] [--tenant NAME]
    amperity-ops simulator ...

Every command reads the same policy file as the Dagster code location (``--config``, else
``AMPERITY_OPS_CONFIG``, else one tenant from the ``AMPERITY_*`` variables) and the same
history store (``AMPERITY_OPS_STORE_URL``). Failures print one line on stderr and exit 1.
"""

from __future__ import annotations

from pathlib import Path

import click

from amperity_ops.cli._context import CliContext
from amperity_ops.cli._group import LazyGroup

__all__ = ["cli", "main"]

_SUBCOMMANDS = {
    "runs": "amperity_ops.cli.runs:runs",
    "backfill": "amperity_ops.cli.backfill:backfill",
    "doctor": "amperity_ops.cli.doctor:doctor",
    "alerts": "amperity_ops.cli.alerts:alerts",
    "store": "amperity_ops.cli.store:store",
    "catalog": "amperity_ops.cli.catalog:catalog",
    "simulator": "amperity_ops.simulator.cli:simulator",
}


@click.group(cls=LazyGroup, lazy_commands=_SUBCOMMANDS, command_extras={"simulator": "simulator"})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="AMPERITY_OPS_CONFIG",
    show_envvar=True,
    help="Policy file (YAML). Without one: one tenant from the AMPERITY_* variables.",
)
@click.version_option(package_name="amperity-ops")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """Watch and guard Amperity workflows."""
    source = ctx.get_parameter_source("config_path")
    given_by = "--config" if source is click.core.ParameterSource.COMMANDLINE else None
    if config_path is not None and source is click.core.ParameterSource.ENVIRONMENT:
        given_by = "AMPERITY_OPS_CONFIG"
    ctx.obj = CliContext(config_path=config_path, config_given_by=given_by)
    ctx.call_on_close(ctx.obj.close)


def main() -> None:
    """Entry point of the ``amperity-ops`` console script."""
    cli(prog_name="amperity-ops")
