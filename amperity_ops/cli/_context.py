"""What every subcommand shares: the runtime (policy, store, clients) built once, on demand."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:  # imported when first used: `--help` and `simulator` stay light
    from amperity_ops.services.runtime import OpsRuntime

__all__ = ["CliContext", "make_console"]

_NON_TTY_WIDTH = 160  # wide enough for a runs table with full workflow ids, when piped


def make_console(*, stderr: bool = False) -> Console:
    """A rich console for the current stdout/stderr (looked up late, so tests can capture it).

    When the output is not a terminal the width is fixed (``COLUMNS`` still wins), so that
    tables piped to a file or a test do not wrap workflow ids.
    """
    console = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, highlight=False, soft_wrap=False, width=_NON_TTY_WIDTH)
    return console


@dataclass
class CliContext:
    """State shared by the subcommands of one invocation.

    Attributes:
        config_path: The policy file from ``--config`` / ``AMPERITY_OPS_CONFIG`` (None: defaults).
    """

    config_path: Path | None = None
    _runtime: OpsRuntime | None = field(default=None, init=False, repr=False)

    @property
    def runtime(self) -> OpsRuntime:
        """The policy, the history store and the tenants' clients; built on first use.

        Raises:
            amperity_ops.settings.ConfigError: If the policy file is invalid.
        """
        if self._runtime is None:
            from amperity_ops.services.runtime import OpsRuntime

            path = str(self.config_path) if self.config_path is not None else None
            self._runtime = OpsRuntime.from_settings(config_path=path)
        return self._runtime

    def close(self) -> None:
        """Releases the store's connections, if the runtime was built."""
        if self._runtime is not None:
            dispose = getattr(self._runtime.store, "dispose", None) or getattr(
                self._runtime.store, "close", None
            )
            if callable(dispose):
                dispose()

    @staticmethod
    def requested_by() -> str:
        """Who is asking, as recorded in the stop ledger: ``cli:<login name>``."""
        try:
            user = getpass.getuser()
        except (OSError, KeyError):  # no login name in some containers
            user = "unknown"
        return f"cli:{user}"
