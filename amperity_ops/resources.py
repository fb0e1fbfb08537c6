"""``AmperityResource``: the Amperity API client's settings as a Dagster resource.

Configuration only: building the resource (and loading the code location) makes no API call.
``get_client()`` hands out an :class:`~amperity_ops.client.AmperityClient`; the request happens
when a method of it is called. Secrets are meant to come from ``EnvVar`` so that Dagster shows
the variable's name, never its value::

    AmperityResource(
        tenant_id=EnvVar("AMPERITY_TENANT_ID"),
        client_id=EnvVar("AMPERITY_CLIENT_ID"),
        client_secret=EnvVar("AMPERITY_CLIENT_SECRET"),
    )

This is the only module of the client part that imports Dagster.
"""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from amperity_ops.client import AmperityClient, ClientSettings
from amperity_ops.client._settings import DEFAULT_API_VERSIONS, DEFAULT_BASE_URL

__all__ = ["AmperityResource"]


class AmperityResource(ConfigurableResource):
    """Connection settings for one Amperity tenant; ``get_client()`` returns the API client."""

    tenant_id: str = Field(description="The Amperity tenant id (sent as amperity-tenant).")
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        description="API root ending in /api. AWS: https://app.amperity.com/api; Azure: "
        "https://<tenant-id>.amperity.com/api; Australia: https://app-aws-apse2.amperity.com/api.",
    )
    # repr=False: once EnvVars are resolved the fields hold the real secrets, and a resource's
    # repr reaches logs and error reports.
    access_token: str | None = Field(
        default=None,
        repr=False,
        description="A static API token generated in Amperity. Use EnvVar, never a literal. "
        "Leave empty when using OAuth client credentials.",
    )
    client_id: str | None = Field(
        default=None, description="OAuth client-credentials id (preferred for long-running use)."
    )
    client_secret: str | None = Field(
        default=None,
        repr=False,
        description="OAuth client-credentials secret. Use EnvVar, never a literal.",
    )
    token_url: str | None = Field(
        default=None,
        description="OAuth token endpoint shown next to the key in Amperity; "
        "empty: {base_url}/v0/oauth2/token.",
    )
    rate_limit_rps: float = Field(
        default=10.0,
        ge=0,
        description="The tenant's request budget per second, shared by every process on the "
        "host (or every host, see rate_limit_backend). 0 turns it off.",
    )
    rate_limit_backend: str = Field(
        default="file",
        description="Where the shared budget lives: 'file' (this host), 'memory' (this "
        "process), 'redis://host:6379/0' or 'postgresql://user@host/db' (several hosts).",
    )
    rate_limit_margin_ms: float = Field(
        default=25.0,
        ge=0,
        le=1000,
        description="Added to the budget's one-second window for the time between taking a slot "
        "and the request reaching Amperity; raise it (e.g. 100) over a slow network.",
    )
    timeout_seconds: float = Field(
        default=30.0, gt=0, description="Timeout of each HTTP request, in seconds."
    )
    max_attempts: int = Field(
        default=6, ge=1, description="Attempts per request (429, 5xx, dropped connections)."
    )
    max_retry_seconds: float = Field(
        default=60.0, ge=0, description="Give up retrying a request after this many seconds."
    )
    api_version_control_plane: str = Field(
        default=DEFAULT_API_VERSIONS["control_plane"],
        description="api-version for runs, ingest jobs, segments, campaigns, audit events.",
    )
    api_version_unstable: str = Field(
        default=DEFAULT_API_VERSIONS["unstable"],
        description="api-version for campaign drafts (only served under 'unstable').",
    )
    api_version_profile: str = Field(
        default=DEFAULT_API_VERSIONS["profile"], description="api-version of the Profile API."
    )

    def settings(self) -> ClientSettings:
        """The same settings, validated as :class:`ClientSettings` (no request is made).

        Raises:
            pydantic.ValidationError: If no credentials are configured, naming the fields.
        """
        return ClientSettings(
            tenant_id=self.tenant_id,
            base_url=self.base_url,
            access_token=self.access_token or None,
            client_id=self.client_id or None,
            client_secret=self.client_secret or None,
            token_url=self.token_url or None,
            rate_limit_rps=self.rate_limit_rps,
            rate_limit_backend=self.rate_limit_backend,
            rate_limit_margin_ms=self.rate_limit_margin_ms,
            timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts,
            max_retry_seconds=self.max_retry_seconds,
            api_version_control_plane=self.api_version_control_plane,
            api_version_unstable=self.api_version_unstable,
            api_version_profile=self.api_version_profile,
        )

    def get_client(self, **overrides: Any) -> AmperityClient:
        """Build an API client from this configuration (no request is made).

        Args:
            **overrides: Constructor arguments that win over the configuration, e.g.
                ``transport=sim.transport()`` in tests.

        Returns:
            An :class:`AmperityClient`; use it as a context manager to close it.
        """
        return AmperityClient.from_settings(self.settings(), **overrides)
