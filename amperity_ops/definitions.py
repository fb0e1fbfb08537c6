"""The Dagster code location: ``amperity_ops.definitions:defs`` (see workspace.yaml).

Built by :func:`amperity_ops.defs.factory.build_amperity_defs`, the same path a project that
adds Amperity to its own definitions takes. Loading makes no API call and needs no
``AMPERITY_*`` variable: it reads the policy file and the catalog files (``amperity-ops catalog
refresh`` writes them); the store is opened only when a run or a sensor tick uses the
``amperity_ops`` resource.

Many tenants: with ``AMPERITY_OPS_SHARD=k/n`` set, ``defs`` is shard k's guard (the sensors and
the stop job for its share of the tenants), and ``amperity_ops.polling_definitions:defs`` is
the one location for the assets beside the shards (see ``amperity_ops.defs.shards`` and
docs/operations.md). It is a module of its own: Dagster loads a module with one
``Definitions`` object only.
"""

from __future__ import annotations

from amperity_ops.defs.factory import build_amperity_defs
from amperity_ops.defs.shards import guard_definitions, shard_from_env

__all__ = ["SHARD", "defs"]

SHARD = shard_from_env()
"""``AMPERITY_OPS_SHARD``, read at load: a bad value stops the code location with one line."""

defs = guard_definitions(SHARD) if SHARD is not None else build_amperity_defs()
