"""The Amperity API client: ``AmperityClient``, typed models, one error tree, one tenant model.

Imports no Dagster and nothing else of the project: this package could ship on its own.
``AmperityClient`` (and what comes with it: ``INGEST_WINDOW``, ``ApiDeprecationWarning``) is
loaded on first use, so that reading configuration (:class:`TenantConnection`) or the models
(``amperity_ops.client.models``, used by the pure monitoring layer) does not load httpx.
"""

from typing import TYPE_CHECKING, Any

from amperity_ops.client import errors
from amperity_ops.client._auth import TokenExpiryWarning, jwt_expiry
from amperity_ops.client._pagination import PageIterator
from amperity_ops.client._params import check_id
from amperity_ops.client._ratelimit import RateLimiter
from amperity_ops.client._retry import RetryPolicy
from amperity_ops.client._settings import ClientSettings
from amperity_ops.client.connection import TenantConnection
from amperity_ops.client.errors import (
    AmperityError,
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GaveUpError,
    NotFoundError,
    OutcomeUnknownError,
    PaginationError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TokenExpiredError,
)
from amperity_ops.client.models import (
    ACTIVE_KINDS,
    STOPPABLE_KINDS,
    TERMINAL_KINDS,
    AuditEvent,
    Campaign,
    CampaignDraft,
    ErrorResponse,
    Index,
    IngestFeed,
    IngestFile,
    IngestJob,
    Page,
    Profile,
    RunMode,
    Segment,
    StateKind,
    WorkflowError,
    WorkflowRun,
    WorkflowRunRequest,
    WorkflowState,
    WorkflowTask,
    normalise_state,
)
from amperity_ops.client.secrets import ConfigError, SecretRef

if TYPE_CHECKING:
    from amperity_ops.client._client import INGEST_WINDOW, AmperityClient, ApiDeprecationWarning

_LAZY = {"AmperityClient", "ApiDeprecationWarning", "INGEST_WINDOW"}
"""Names that live in ``_client`` (which imports httpx), loaded on first access."""


def __getattr__(name: str) -> Any:
    # PEP 562: reached only for names not set above.
    if name in _LAZY:
        from amperity_ops.client import _client

        value = getattr(_client, name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "ACTIVE_KINDS",
    "INGEST_WINDOW",
    "STOPPABLE_KINDS",
    "TERMINAL_KINDS",
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AmperityClient",
    "AmperityError",
    "ApiDeprecationWarning",
    "AuditEvent",
    "AuthenticationError",
    "BadRequestError",
    "Campaign",
    "CampaignDraft",
    "ClientSettings",
    "ConfigError",
    "ConflictError",
    "ErrorResponse",
    "GaveUpError",
    "Index",
    "IngestFeed",
    "IngestFile",
    "IngestJob",
    "NotFoundError",
    "OutcomeUnknownError",
    "Page",
    "PageIterator",
    "PaginationError",
    "PermissionDeniedError",
    "Profile",
    "RateLimitedError",
    "RateLimiter",
    "RetryPolicy",
    "RunMode",
    "SecretRef",
    "Segment",
    "ServerError",
    "StateKind",
    "TenantConnection",
    "TokenExpiredError",
    "TokenExpiryWarning",
    "WorkflowError",
    "WorkflowRun",
    "WorkflowRunRequest",
    "WorkflowState",
    "WorkflowTask",
    "check_id",
    "errors",
    "jwt_expiry",
    "normalise_state",
]
