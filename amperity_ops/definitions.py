"""The Dagster code location: ``amperity_ops.definitions:defs`` (see workspace.yaml).

Built by :func:`amperity_ops.defs.factory.build_amperity_defs`, the same path a project that
adds Amperity to its own definitions takes. Loading makes no API call and needs no
``AMPERITY_*`` variable: it reads the policy file and the catalog files (``amperity-ops catalog
refresh`` writes them); the store is opened only when a run or a sensor tick uses the
``amperity_ops`` resource.
"""

from __future__ import annotations

from amperity_ops.defs.factory import build_amperity_defs

__all__ = ["defs"]

defs = build_amperity_defs()
