"""``ClientSettings``: the tenant model under the name ``AmperityClient.from_settings`` took.

It is :class:`~amperity_ops.client.connection.TenantConnection` (no field of its own) with the
one behaviour the pydantic-settings class of that name had: a field not given is read from its
``AMPERITY_*`` variable, so ``ClientSettings()`` still describes the tenant of the environment.
"""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from amperity_ops.client.connection import DEFAULT_API_VERSIONS, DEFAULT_BASE_URL, TenantConnection

__all__ = [
    "DEFAULT_API_VERSIONS",
    "DEFAULT_BASE_URL",
    "ClientSettings",
]


class ClientSettings(TenantConnection):
    """A :class:`TenantConnection` whose missing fields come from ``AMPERITY_*`` variables."""

    @model_validator(mode="before")
    @classmethod
    def _fill_from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        given = {key: value for key, value in data.items() if value is not None}
        return {**TenantConnection.environment_values(), **given}
