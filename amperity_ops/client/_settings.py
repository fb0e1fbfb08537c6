"""The client's settings under their older names (kept for ``_client.py`` and callers).

``ClientSettings`` is :class:`~amperity_ops.client.connection.TenantConnection`: one model of a
tenant connection, filled from ``AMPERITY_*`` by ``TenantConnection.from_env()``.
"""

from __future__ import annotations

from amperity_ops.client.connection import DEFAULT_API_VERSIONS, DEFAULT_BASE_URL, TenantConnection

__all__ = [
    "DEFAULT_API_VERSIONS",
    "DEFAULT_BASE_URL",
    "ClientSettings",
]

ClientSettings = TenantConnection
"""The same model as :class:`TenantConnection` (the name ``AmperityClient.from_settings`` took)."""
