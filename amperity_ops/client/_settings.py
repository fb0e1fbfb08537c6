"""The client's settings from ``AMPERITY_*`` environment variables (pydantic-settings).

Used by :meth:`AmperityClient.from_env` and mirrored by the Dagster ``AmperityResource``.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "DEFAULT_API_VERSIONS",
    "DEFAULT_BASE_URL",
    "ClientSettings",
]

DEFAULT_BASE_URL = "https://app.amperity.com/api"
"""AWS tenants. Azure: ``https://<tenant-id>.amperity.com/api``; Australia:
``https://app-aws-apse2.amperity.com/api``."""

DEFAULT_API_VERSIONS = {
    "control_plane": "2024-04-01",
    "unstable": "unstable",
    "profile": "2025-07-31",
}
"""The ``api-version`` each API family is spoken with (campaign drafts exist only under
``unstable``)."""


class ClientSettings(BaseSettings):
    """Everything :class:`AmperityClient` can be configured with, read from ``AMPERITY_*``."""

    model_config = SettingsConfigDict(env_prefix="AMPERITY_", extra="ignore")

    tenant_id: str = Field(min_length=1, description="The Amperity tenant id, e.g. 'acme'.")
    base_url: str = Field(DEFAULT_BASE_URL, description="The API base URL, ending in /api.")
    access_token: SecretStr | None = Field(None, description="A static API token (JWT).")
    client_id: str | None = Field(None, description="OAuth client id (client credentials).")
    client_secret: SecretStr | None = Field(None, description="OAuth client secret.")
    token_url: str | None = Field(
        None, description="OAuth token endpoint; default {base_url}/v0/oauth2/token."
    )
    rate_limit_rps: float = Field(
        10.0, ge=0, description="Requests per second for the tenant; 0 turns the budget off."
    )
    rate_limit_backend: str = Field(
        "file",
        description="Where the shared budget lives: file, file:///dir, memory, redis://..., "
        "postgresql://...",
    )
    rate_limit_margin_ms: float = Field(
        25.0,
        ge=0,
        le=1000,
        description="Added to the budget's one-second window to absorb the time between taking "
        "a slot and the request reaching Amperity; raise it (e.g. 100) over a slow network.",
    )
    timeout_seconds: float = Field(30.0, gt=0, description="Timeout of each HTTP request.")
    max_attempts: int = Field(6, ge=1, description="Attempts per request, the first included.")
    max_retry_seconds: float = Field(
        60.0, ge=0, description="No retry starts this long after a request's first attempt."
    )
    api_version_control_plane: str = Field(DEFAULT_API_VERSIONS["control_plane"])
    api_version_unstable: str = Field(DEFAULT_API_VERSIONS["unstable"])
    api_version_profile: str = Field(DEFAULT_API_VERSIONS["profile"])

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> Self:
        has_oauth = bool(self.client_id) and self.client_secret is not None
        if self.access_token is None and not has_oauth:
            raise ValueError(
                "no credentials: set AMPERITY_ACCESS_TOKEN, or both AMPERITY_CLIENT_ID and "
                "AMPERITY_CLIENT_SECRET"
            )
        if bool(self.client_id) != (self.client_secret is not None):
            missing = "AMPERITY_CLIENT_SECRET" if self.client_id else "AMPERITY_CLIENT_ID"
            raise ValueError(f"OAuth needs both client id and secret: {missing} is not set")
        return self

    @property
    def api_versions(self) -> dict[str, str]:
        """The per-family api-version mapping."""
        return {
            "control_plane": self.api_version_control_plane,
            "unstable": self.api_version_unstable,
            "profile": self.api_version_profile,
        }
