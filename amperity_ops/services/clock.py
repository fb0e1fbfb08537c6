"""Which clock the runtime reads "now" from: the system clock, or one plugged in by name.

SLA decisions compare a run's ``created_at`` (the tenant's clock) with "now". Against real
Amperity that is the system clock. ``AMPERITY_OPS_CLOCK`` may name another clock as a
``module:factory`` path; the factory is called with the first tenant's base URL and returns a
:class:`amperity_ops.core.clock.Clock`. ``simulator`` is shorthand for the demo simulator's
clock (its time runs 10x faster in the demo). The module is imported only when asked for, so
the monitor never imports the simulator and never knows which clock it holds: it reads only the
clock's ``label`` and ``mark`` (``core.clock.clock_label`` / ``clock_mark``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from datetime import datetime
from typing import cast

from amperity_ops.core.clock import utc_now

__all__ = ["CLOCK_ENV", "CLOCK_SHORTHANDS", "clock_from_env", "utc_now"]

CLOCK_ENV = "AMPERITY_OPS_CLOCK"
"""``system`` (default), ``simulator``, or a ``module:factory`` path."""

CLOCK_SHORTHANDS = {"simulator": "amperity_ops.simulator.clock:simulator_clock"}
"""Names ``AMPERITY_OPS_CLOCK`` accepts for a ``module:factory`` path."""

_EXTRA_HINTS = {"amperity_ops.simulator": "pip install 'amperity-ops[simulator]'"}
"""What to install when a clock's module cannot be imported for a missing dependency."""


def clock_from_env(base_url: str | None) -> Callable[[], datetime]:
    """The clock ``AMPERITY_OPS_CLOCK`` asks for.

    Args:
        base_url: The first tenant's API base URL (where the simulator is), if any.

    Returns:
        ``utc_now`` for ``system`` (or unset); else what the named factory returns for
        ``base_url`` (for ``simulator``: a clock reading the simulator's ``/_sim/health``).

    Raises:
        ValueError: For an unknown value, a factory that cannot be loaded or refuses (e.g.
            ``simulator`` without a base URL); the message names the variable.
    """
    given = (os.environ.get(CLOCK_ENV) or "system").strip()
    if given.lower() == "system":
        return utc_now
    path = CLOCK_SHORTHANDS.get(given.lower(), given)
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(
            f"{CLOCK_ENV}: expected 'system', 'simulator' or a 'module:factory' path, "
            f"got {given!r}"
        )
    factory = _load(given, module_name, attribute)
    try:
        clock = factory(base_url)
    except ValueError as err:
        raise ValueError(f"{CLOCK_ENV}={given}: {err}") from None
    if not callable(clock):
        raise ValueError(f"{CLOCK_ENV}={given}: {path} returned {type(clock).__name__}, "
                         "not a clock")
    return cast("Callable[[], datetime]", clock)


def _load(given: str, module_name: str, attribute: str) -> Callable[[str | None], object]:
    """The factory at ``module_name:attribute``, imported now (and only now)."""
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except ModuleNotFoundError as err:
        # A missing dependency of the clock's module (not the module itself): say what to install.
        hint = next((h for m, h in _EXTRA_HINTS.items() if module_name.startswith(m)), None)
        itself = err.name is not None and f"{module_name}.".startswith(f"{err.name}.")
        raise ValueError(f"{CLOCK_ENV}={given}: cannot import {module_name} (no module named "
                         f"{err.name!r})" + (f"; {hint}" if hint and not itself else "")) from None
    except (ImportError, AttributeError) as err:
        raise ValueError(f"{CLOCK_ENV}={given}: cannot load {module_name}:{attribute} "
                         f"({type(err).__name__}: {err})") from None
    if not callable(factory):
        raise ValueError(f"{CLOCK_ENV}={given}: {module_name}:{attribute} is not callable")
    return factory
