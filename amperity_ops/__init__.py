"""amperity-ops: watch and guard Amperity workflows from Dagster.

The Dagster-side public names (``build_amperity_defs``, ``AmperityTranslator``,
``AmperityTranslation`` and ``AmperityTenantComponent``, the Component users scaffold with
``dg scaffold defs amperity_ops.AmperityTenantComponent <name>``) are loaded on first access, so
``import amperity_ops.client`` (and the CLI) still load no Dagster
(``amperity_ops_tests/test_layering.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from amperity_ops.components import AmperityTenantComponent
    from amperity_ops.defs.factory import build_amperity_defs
    from amperity_ops.defs.translator import AmperityTranslation, AmperityTranslator

__version__ = "0.1.0"
__all__ = [
    "AmperityTenantComponent",
    "AmperityTranslation",
    "AmperityTranslator",
    "__version__",
    "build_amperity_defs",
]

_LAZY = {
    "build_amperity_defs": "amperity_ops.defs.factory",
    "AmperityTranslator": "amperity_ops.defs.translator",
    "AmperityTranslation": "amperity_ops.defs.translator",
    "AmperityTenantComponent": "amperity_ops.components",
}


def __getattr__(name: str) -> Any:
    """Import the Dagster-side public names only when someone asks for them (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'amperity_ops' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    # `dg` finds components by scanning dir() of the registry module (the entry point in
    # pyproject.toml), so the lazy names must be listed.
    return sorted([*globals(), *_LAZY])
