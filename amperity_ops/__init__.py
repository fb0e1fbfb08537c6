"""amperity-ops: watch and guard Amperity workflows from Dagster.

``AmperityTenantComponent`` (the Dagster Component users scaffold with
``dg scaffold defs amperity_ops.AmperityTenantComponent <name>``) is loaded on first access, so
``import amperity_ops.client`` still loads no Dagster (``amperity_ops_tests/test_layering.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["AmperityTenantComponent", "__version__"]

if TYPE_CHECKING:
    from amperity_ops.components import AmperityTenantComponent

_LAZY = {"AmperityTenantComponent": "amperity_ops.components"}


def __getattr__(name: str) -> Any:
    """Import the Component (and with it Dagster) only when someone asks for it."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'amperity_ops' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    # `dg` finds components by scanning dir() of the registry module (the entry point in
    # pyproject.toml), so the lazy name must be listed.
    return sorted([*globals(), *_LAZY])
