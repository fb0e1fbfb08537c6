"""Dagster Components of amperity-ops: ``AmperityTenantComponent`` (also at the package root)."""

from amperity_ops.components.tenant import AmperityTenantComponent

__all__ = ["AmperityTenantComponent"]
