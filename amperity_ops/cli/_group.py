"""A click group whose subcommands are imported on first use and whose errors are one line.

Importing a subcommand only when it runs keeps ``amperity-ops --help`` fast (the Dagster-facing
parts import a lot) and means one broken part cannot take the other commands down with it.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import click

from amperity_ops.cli._context import CliContext
from amperity_ops.cli._errors import DEBUG_ENV, as_click_exception, auth_hint, store_hint


class LazyGroup(click.Group):
    """A :class:`click.Group` with lazily imported subcommands and one-line errors.

    Args:
        lazy_commands: Subcommand name -> ``"module:attribute"`` of a click command.
        command_extras: Subcommand name -> the package extra its imports need (its error
            then says what to install instead of which module is missing).
        **kwargs: Passed to :class:`click.Group`.
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None,
                 command_extras: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})
        self.command_extras = dict(command_extras or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Eager and lazy subcommand names, sorted."""
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Returns the named subcommand, importing it on first use."""
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            module_name, _, attribute = self.lazy_commands[cmd_name].partition(":")
            try:
                command = getattr(importlib.import_module(module_name), attribute)
            except Exception as err:
                if os.environ.get(DEBUG_ENV):
                    raise
                raise click.ClickException(self._unavailable(cmd_name, err)) from None
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def _unavailable(self, cmd_name: str, err: Exception) -> str:
        """Why a subcommand cannot be imported: what to install, if an extra is missing."""
        extra = self.command_extras.get(cmd_name)
        missing = err.name if isinstance(err, ModuleNotFoundError) else None
        if extra and missing and not missing.startswith("amperity_ops"):
            return (f"the `{cmd_name}` command needs the {extra} extra: "
                    f"pip install 'amperity-ops[{extra}]'")
        return f"the `{cmd_name}` command is unavailable: {type(err).__name__}: {err}"

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Lists the subcommands in ``--help``; one that cannot be imported says so."""
        rows = []
        for name in self.list_commands(ctx):
            try:
                command = self.get_command(ctx, name)
            except click.ClickException as err:
                rows.append((name, f"(unavailable: {err.message})"))
                continue
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        """Runs the subcommand; any failure becomes one line on stderr and exit status 1."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            raise click.ClickException("interrupted") from None
        except Exception as err:
            if os.environ.get(DEBUG_ENV):
                raise
            # A 401 says which variable to check, as doctor does, if the tenants are known.
            runtime = getattr(ctx.find_object(CliContext), "built_runtime", None)
            hint = auth_hint(err, runtime.tenants) if runtime is not None else ""
            hint += store_hint(err, runtime.store.url if runtime is not None else None)
            raise as_click_exception(err, hint=hint) from None
