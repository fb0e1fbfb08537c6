"""The Amperity API client: ``AmperityClient``, typed models and one error tree.

Imports no Dagster: this package could ship on its own.
"""

from amperity_ops.client import errors
from amperity_ops.client._auth import TokenExpiryWarning
from amperity_ops.client._client import AmperityClient, ApiDeprecationWarning
from amperity_ops.client._pagination import PageIterator
from amperity_ops.client._ratelimit import RateLimiter
from amperity_ops.client._retry import RetryPolicy
from amperity_ops.client._settings import ClientSettings
from amperity_ops.client.errors import (
    AmperityError,
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    OutcomeUnknownError,
    PaginationError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TokenExpiredError,
)
from amperity_ops.client.models import (
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

__all__ = [
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
    "ConflictError",
    "ErrorResponse",
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
    "Segment",
    "ServerError",
    "StateKind",
    "TokenExpiredError",
    "TokenExpiryWarning",
    "WorkflowError",
    "WorkflowRun",
    "WorkflowRunRequest",
    "WorkflowState",
    "WorkflowTask",
    "errors",
    "normalise_state",
]
