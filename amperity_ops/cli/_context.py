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
        config_given_by: ``"--config"`` or ``"AMPERITY_OPS_CONFIG"``: named when the file is
            missing, so the message points at what the person actually typed.
    """

    config_path: Path | None = None
    config_given_by: str | None = None
    _runtime: OpsRuntime | None = field(default=None, init=False, repr=False)

    @property
    def runtime(self) -> OpsRuntime:
        """The policy, the history store and the tenants' clients; built on first use.

        Raises:
            amperity_ops.settings.ConfigError: If the policy file is invalid.
        """
        if self._runtime is None:
            from amperity_ops.services.runtime import OpsRuntime

            self.check_config_path()
            path = str(self.config_path) if self.config_path is not None else None
            self._runtime = OpsRuntime.from_settings(config_path=path)
        return self._runtime

    @property
    def built_runtime(self) -> OpsRuntime | None:
        """The runtime if a command already built it, else None (never builds it)."""
        return self._runtime

    def check_config_path(self) -> None:
        """Fails clearly when the policy file named by ``--config`` or the variable is missing.

        Raises:
            amperity_ops.settings.ConfigError: The file does not exist; the message says whether
                it came from ``--config`` or ``AMPERITY_OPS_CONFIG``.
        """
        if self.config_path is None or self.config_path.is_file():
            return
        from amperity_ops.settings import ConfigError

        given = f" (given by {self.config_given_by})" if self.config_given_by else ""
        raise ConfigError(f"{self.config_path}: policy file not found{given}")

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
