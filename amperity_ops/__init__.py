"""amperity-ops: watch and guard Amperity workflows from Dagster."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from amperity_ops.defs.factory import build_amperity_defs
    from amperity_ops.defs.translator import AmperityTranslation, AmperityTranslator

__version__ = "0.1.0"
__all__ = ["AmperityTranslation", "AmperityTranslator", "build_amperity_defs"]

_LAZY = {
    "build_amperity_defs": "amperity_ops.defs.factory",
    "AmperityTranslator": "amperity_ops.defs.translator",
    "AmperityTranslation": "amperity_ops.defs.translator",
}
"""Dagster-side names, imported on first use: ``import amperity_ops.client`` (and the CLI)
must not drag Dagster in."""


def __getattr__(name: str) -> Any:
    """Import the Dagster-side public names lazily (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'amperity_ops' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
