"""The polled assets' code location beside the shards: ``amperity_ops.polling_definitions:defs``.

With tenants split across code locations (``AMPERITY_OPS_SHARD=k/n``, one guard per shard), the
assets of every tenant live in this one location, because an asset key is global in a Dagster
deployment (see ``amperity_ops.defs.shards`` and docs/operations.md).
"""

from __future__ import annotations

from amperity_ops.defs.shards import polling_definitions

__all__ = ["defs"]

defs = polling_definitions()
"""Every tenant's polled assets, their checks and schedules (no SLA sensor, no stop job)."""
