"""The `amperity-ops` command line."""

from __future__ import annotations

import click


@click.group()
def cli() -> None:
    """Watch and guard Amperity workflows."""


def _register_subcommands() -> None:
    # Imported here so that `amperity-ops --help` stays fast and one broken part does not
    # take the others down with it.
    from amperity_ops.simulator.cli import simulator

    cli.add_command(simulator)


def main() -> None:
    """Entry point of the `amperity-ops` console script."""
    _register_subcommands()
    cli()
