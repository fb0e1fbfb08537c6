"""``AmperityResource``: a tenant connection as a Dagster resource.

The fields are those of :class:`~amperity_ops.client.TenantConnection`, with its descriptions
and defaults, typed as Dagster config (secrets as plain strings, meant to come from ``EnvVar``
so that Dagster shows the variable's name, never its value)::

    AmperityResource(
        tenant_id=EnvVar("AMPERITY_TENANT_ID"),
        client_id=EnvVar("AMPERITY_CLIENT_ID"),
        client_secret=EnvVar("AMPERITY_CLIENT_SECRET"),
    )

``settings()`` returns the ``TenantConnection`` (validated by its rules, nothing else) and
``get_client()`` is ``settings().client()``. Building the resource, and loading a code location
that holds it, makes no API call. It is usable on its own and is the ``tenant`` of the
``amperity_ops`` resource (``amperity_ops.defs.resources``).
"""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from amperity_ops.client import AmperityClient, TenantConnection

__all__ = ["AmperityResource"]


def _like_connection(field: str, **kwargs: Any) -> Any:
    """A resource field with the description and default of the connection's field."""
    spec = TenantConnection.model_fields[field]
    return Field(default=spec.default, description=spec.description, **kwargs)


class AmperityResource(ConfigurableResource):
    """Connection settings for one Amperity tenant; ``get_client()`` returns the API client."""

    tenant_id: str = Field(description=TenantConnection.model_fields["tenant_id"].description)
    name: str | None = _like_connection("name")
    base_url: str | None = _like_connection("base_url")
    # repr=False: once EnvVars are resolved the fields hold the real secrets, and a resource's
    # repr reaches logs and error reports.
    access_token: str | None = _like_connection("access_token", repr=False)
    client_id: str | None = _like_connection("client_id")
    client_secret: str | None = _like_connection("client_secret", repr=False)
    token_url: str | None = _like_connection("token_url")
    rate_limit_rps: float = _like_connection("rate_limit_rps")
    rate_limit_backend: str = _like_connection("rate_limit_backend", repr=False)
    rate_limit_margin_ms: float = _like_connection("rate_limit_margin_ms")
    app_url: str | None = _like_connection("app_url")
    timeout_seconds: float = _like_connection("timeout_seconds")
    max_attempts: int = _like_connection("max_attempts")
    max_retry_seconds: float = _like_connection("max_retry_seconds")
    api_version_control_plane: str = _like_connection("api_version_control_plane")
    api_version_unstable: str = _like_connection("api_version_unstable")
    api_version_profile: str = _like_connection("api_version_profile")

    def settings(self) -> TenantConnection:
        """This configuration as the one tenant connection model (no request is made).

        Empty values count as unset; secrets become literal ``SecretRef`` values (hidden from
        ``repr``), revealed only when a client is built.

        Raises:
            pydantic.ValidationError: If a value is invalid or no credentials are configured,
                naming the settings.
        """
        return TenantConnection.from_values(
            {field: getattr(self, field) for field in TenantConnection.model_fields}
        )

    def get_client(self, **overrides: Any) -> AmperityClient:
        """Build an API client from this configuration (no request is made).

        Args:
            **overrides: Constructor arguments that win over the configuration, e.g.
                ``transport=sim.transport()`` in tests.

        Returns:
            An :class:`AmperityClient`; use it as a context manager to close it.
        """
        return self.settings().client(**overrides)
