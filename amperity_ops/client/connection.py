"""``TenantConnection``: the one description of how to reach an Amperity tenant.

Everything that configures a client goes through this model: the ``AMPERITY_*`` environment
(:meth:`TenantConnection.from_env`, used by ``AmperityClient.from_env``), a tenant entry of
the policy file (``amperity_ops.settings.TenantConfig`` is this model), and the Dagster
``AmperityResource`` (whose ``settings()`` returns one). :meth:`TenantConnection.client` is the
only mapping from configuration to :class:`~amperity_ops.client.AmperityClient`; secrets stay
:class:`~amperity_ops.client.secrets.SecretRef` values until that call reveals them.

Importing this module loads pydantic only; the HTTP client is imported when ``client()`` runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    model_validator,
)

from amperity_ops.client.secrets import SecretRef

if TYPE_CHECKING:
    from amperity_ops.client._client import AmperityClient

__all__ = [
    "DEFAULT_API_VERSIONS",
    "DEFAULT_BASE_URL",
    "ENV_PREFIX",
    "TENANT_ID_VARIABLES",
    "TenantConnection",
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

ENV_PREFIX: Final = "AMPERITY_"
"""Field ``x`` of a connection is read from the variable ``AMPERITY_X``."""

TENANT_ID_VARIABLES: Final = ("AMPERITY_TENANT_ID", "AMPERITY_TENANT")
"""Where the environment names the tenant, first set one wins."""

_SECRET_FIELDS: Final = ("access_token", "client_id", "client_secret")
_NAMED_BY_VARIABLE: Final = "named_by_variable"
"""Validation context key: the values stand for ``AMPERITY_*`` variables, so errors name those."""


class TenantConnection(BaseModel):
    """How to reach one Amperity tenant: address, credentials, request budget and timeouts.

    Unknown keys are rejected and the model is frozen. Credentials are secret references:
    ``{env: NAME}`` or a literal, never shown in ``repr`` or dumps.
    """

    # hide_input_in_errors: a validation error must not echo a literal secret it was given.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
    _base_url_source: str = PrivateAttr(default="base_url")
    """Where ``base_url`` came from, named in connection errors (see :meth:`from_source`)."""

    name: str = Field(
        default="",
        description="A short label for the tenant (default: its tenant id); used in run keys, "
        "dedup keys and the CLI's --tenant.",
    )
    tenant_id: str = Field(
        min_length=1,
        description="The Amperity tenant id, sent as the amperity-tenant header, e.g. 'acme' "
        "or 'acme-sb-12345'.",
    )
    base_url: str | None = Field(
        default=None,
        description="API root ending in /api; empty: the AWS host https://app.amperity.com/api. "
        "Azure: https://<tenant-id>.amperity.com/api; Australia: "
        "https://app-aws-apse2.amperity.com/api.",
    )
    access_token: SecretRef | None = Field(
        default=None,
        description="A static API token (JWT) generated in Amperity. Leave empty when using "
        "OAuth client credentials.",
    )
    client_id: SecretRef | None = Field(
        default=None,
        description="OAuth client-credentials id (preferred for long-running use).",
    )
    client_secret: SecretRef | None = Field(
        default=None, description="OAuth client-credentials secret."
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
    # Left out of repr: a redis:// or postgresql:// URL may carry a password.
    rate_limit_backend: str = Field(
        default="file",
        repr=False,
        description="Where the shared budget lives: 'file' (this host), 'file:///dir', 'memory' "
        "(this process), 'redis://host:6379/0' or 'postgresql://user@host/db' (several hosts).",
    )
    rate_limit_margin_ms: float = Field(
        default=25.0,
        ge=0,
        le=1000,
        description="Added to the budget's one-second window for the time between taking a slot "
        "and the request reaching Amperity; raise it (e.g. 100) over a slow network.",
    )
    app_url: str | None = Field(
        default=None,
        description="The Amperity app URL, e.g. https://acme.amperity.com, for links to runs in "
        "alerts and metadata.",
    )
    timeout_seconds: float = Field(
        default=30.0, gt=0, description="Timeout of each HTTP request, in seconds."
    )
    max_attempts: int = Field(
        default=6,
        ge=1,
        description="Attempts per request, the first included (429, 5xx, dropped connections).",
    )
    max_retry_seconds: float = Field(
        default=60.0,
        ge=0,
        description="No retry starts this many seconds after a request's first attempt.",
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

    # ------------------------------------------------------------------------------ building

    @classmethod
    def environment_values(cls, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """What the ``AMPERITY_*`` variables say about a tenant, not yet validated.

        The tenant id comes from ``AMPERITY_TENANT_ID`` (or ``AMPERITY_TENANT``); every other
        field ``x`` from ``AMPERITY_X`` when set and not empty. Credentials become references
        (``{"env": "AMPERITY_ACCESS_TOKEN"}``): their values are not read here.

        Args:
            environ: The variables (default ``os.environ``).

        Returns:
            Field name -> raw value, for :meth:`from_values` or a policy file's ``tenants``.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        tenant_id = next((env[v] for v in TENANT_ID_VARIABLES if env.get(v)), None)
        if tenant_id is not None:
            values["tenant_id"] = tenant_id
        for field in cls.model_fields:
            variable = ENV_PREFIX + field.upper()
            if field in ("name", "tenant_id") or not env.get(variable):
                continue
            values[field] = {"env": variable} if field in _SECRET_FIELDS else env[variable]
        return values

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Self:
        """Validate settings given field by field, as the environment or a resource gives them.

        Empty strings count as unset. Errors name the ``AMPERITY_*`` variable of a missing
        credential (e.g. "no credentials: set AMPERITY_ACCESS_TOKEN, or both ...").

        Raises:
            pydantic.ValidationError: Naming each invalid field (never echoing a value).
        """
        given = {k: v for k, v in values.items() if v is not None and v != ""}
        conn = cls.model_validate(given, context={_NAMED_BY_VARIABLE: True})
        return conn.from_source(ENV_PREFIX + "BASE_URL")

    def from_source(self, base_url_source: str) -> Self:
        """This tenant, saying where its ``base_url`` came from when it cannot connect.

        Args:
            base_url_source: E.g. ``AMPERITY_BASE_URL`` or ``tenants[1].base_url in
                policy.yaml``; passed to the client as ``base_url_source``.
        """
        copy = self.model_copy()
        copy._base_url_source = base_url_source
        return copy

    @property
    def base_url_source(self) -> str:
        """Where ``base_url`` came from (``base_url`` when nobody said)."""
        return self._base_url_source

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The tenant described by the ``AMPERITY_*`` variables (see :meth:`environment_values`).

        Raises:
            pydantic.ValidationError: A variable is missing or invalid (it is named).
        """
        return cls.from_values(cls.environment_values(environ))

    @model_validator(mode="before")
    @classmethod
    def _name_defaults_to_tenant_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("name") and data.get("tenant_id"):
            return {**data, "name": data["tenant_id"]}
        return data

    @model_validator(mode="after")
    def _one_way_to_authenticate(self, info: ValidationInfo) -> Self:
        by_variable = bool(info.context and info.context.get(_NAMED_BY_VARIABLE))
        has_oauth = self.client_id is not None and self.client_secret is not None
        if self.access_token is None and not has_oauth:
            raise ValueError(
                "no credentials: set AMPERITY_ACCESS_TOKEN, or both AMPERITY_CLIENT_ID and "
                "AMPERITY_CLIENT_SECRET"
                if by_variable
                else "give access_token, or client_id and client_secret"
            )
        if (self.client_id is None) != (self.client_secret is None):
            missing = "client_secret" if self.client_id is not None else "client_id"
            if by_variable:
                missing = ENV_PREFIX + missing.upper()
            raise ValueError(f"OAuth needs both client id and secret: {missing} is not set")
        return self

    # ------------------------------------------------------------------------------- reading

    @property
    def api_versions(self) -> dict[str, str]:
        """The per-family api-version mapping."""
        return {
            "control_plane": self.api_version_control_plane,
            "unstable": self.api_version_unstable,
            "profile": self.api_version_profile,
        }

    def run_link(self, workflow_id: str) -> str | None:
        """Link to a workflow run in the Amperity app, when ``app_url`` is known."""
        if not self.app_url:
            return None
        return f"{self.app_url.rstrip('/')}/#/workflows/{workflow_id}"

    def client(
        self, *, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> AmperityClient:
        """Build the API client for this tenant; secrets are revealed now and only here.

        Args:
            environ: Where ``{env: NAME}`` secrets are read (default ``os.environ``).
            **overrides: Constructor arguments of ``AmperityClient`` that win over the
                configuration, e.g. ``transport=sim.transport()`` or ``rate_limit_rps=0``.

        Returns:
            A client (no request is made); close it, or use it as a context manager.

        Raises:
            ConfigError: A secret's environment variable is not set (it is named).
        """
        # Imported here so that the model (and everything reading configuration) loads without
        # the HTTP stack.
        from amperity_ops.client._client import AmperityClient
        from amperity_ops.client._retry import RetryPolicy

        kwargs: dict[str, Any] = {
            "base_url": self.base_url,
            "token_url": self.token_url,
            "rate_limit_rps": self.rate_limit_rps,
            "rate_limit_backend": self.rate_limit_backend,
            "rate_limit_margin": self.rate_limit_margin_ms / 1000,
            "api_versions": self.api_versions,
            "timeout": self.timeout_seconds,
            "base_url_source": self._base_url_source,
            "retry_policy": RetryPolicy(
                max_attempts=self.max_attempts, max_total_seconds=self.max_retry_seconds
            ),
        }
        for field in _SECRET_FIELDS:
            ref: SecretRef | None = getattr(self, field)
            if field not in overrides:  # an overridden secret need not be set at all
                kwargs[field] = None if ref is None else ref.reveal(environ)
        kwargs.update(overrides)
        return AmperityClient(self.tenant_id, **kwargs)
