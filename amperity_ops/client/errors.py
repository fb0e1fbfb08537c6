"""One exception tree for everything the Amperity client raises, and one mapping point.

::

    AmperityError
    ├── APIConnectionError            the request may not have reached Amperity
    │   ├── APITimeoutError           no answer in time
    │   └── OutcomeUnknownError       a start whose answer was lost, and a re-read cannot tell
    ├── APIResponseValidationError    a 2xx answer that is not the documented shape
    ├── PaginationError               the server repeated a page token (would loop forever)
    ├── GaveUpError                   a stop or start sent the most times allowed did not take
    └── APIStatusError                Amperity answered with a 4xx/5xx
        ├── BadRequestError           400
        ├── AuthenticationError       401
        │   └── TokenExpiredError     the static token's ``exp`` is in the past
        ├── PermissionDeniedError     403
        ├── NotFoundError             404
        ├── ConflictError             409
        ├── RateLimitedError          429
        └── ServerError               5xx

Every status error carries ``status``, ``message`` and Amperity's ``request_id`` and
``trace_id`` when sent (the things support asks for), and ``str(err)`` shows them. No message
ever contains a token, a secret or an Authorization header: messages are built only from the
status, the server's own message, the method, the path and (connection errors) the URL without
credentials or query.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AmperityError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "GaveUpError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ServerError",
    "TokenExpiredError",
    "make_status_error",
]


class AmperityError(Exception):
    """Base of every error the client raises."""


class PaginationError(AmperityError):
    """The server sent a page token it had already sent: following it would loop forever."""


class APIConnectionError(AmperityError):
    """The request failed before a complete answer arrived (DNS, refused, reset, cut body).

    Attributes:
        method: The HTTP method.
        path: The request path.
        url: The URL tried (scheme, host, port and path; never a query or credentials), when
            the failure is about reaching it.
        setting: Where that URL came from (``AMPERITY_BASE_URL``, ``tenants[1].base_url``...).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        url: str | None = None,
        setting: str | None = None,
    ):
        self.method = method
        self.path = path
        self.url = url
        self.setting = setting
        where = f" ({method} {path})" if method and path else ""
        fix = ""
        if url:
            fix = f"; tried {url}"
            if setting:
                fix += f": check {setting}"
        super().__init__(f"{message}{where}{fix}")


class APITimeoutError(APIConnectionError):
    """No answer within the configured timeout."""


class OutcomeUnknownError(APIConnectionError):
    """A start whose answer was lost, and re-reading the runs could not tell if it took effect.

    The client never re-sends such a request blindly (it could start the workflow twice);
    the message lists the runs created since the request so a person can decide.
    """


class GaveUpError(AmperityError):
    """A stop or start was sent the most times allowed, each re-read showed it had not taken.

    The message says what was tried, what Amperity answered each time and the request ids;
    the outcome is known (the last read showed the run or config unchanged) unless ``outcome``
    says ``"unknown"``.

    Attributes:
        operation: E.g. ``"stop of wf-…"``.
        answers: One line per send: ``"500 An unexpected error occurred. (request_id=…)"``.
        request_ids: Amperity's request ids, in order (those it sent).
        outcome: ``"failed"`` (the re-read shows it did not take) or ``"unknown"``.
    """

    def __init__(
        self,
        operation: str,
        *,
        answers: list[str],
        request_ids: list[str],
        outcome: str,
        last_state: str | None = None,
    ) -> None:
        self.operation = operation
        self.answers = tuple(answers)
        self.request_ids = tuple(request_ids)
        self.outcome = outcome
        self.last_state = last_state
        seen = f"; the run is still {last_state!r}" if last_state else ""
        ids = f" (request ids: {', '.join(request_ids)})" if request_ids else ""
        super().__init__(
            f"{operation}: sent {len(answers)} time(s), Amperity answered "
            f"{' / '.join(answers)}{seen}; giving up{ids}"
        )


class APIResponseValidationError(AmperityError):
    """A successful answer whose body is not the documented shape (the message names fields)."""


class APIStatusError(AmperityError):
    """Amperity answered with an error status.

    Attributes:
        status: The HTTP status code.
        message: The server's message (or a short default).
        request_id: Amperity's request id when it sent one (header or body).
        trace_id: Amperity's trace id when it sent one (body ``trace_id`` or ``traceparent``).
        method: The HTTP method of the failed request.
        path: The request path (without query string, which never holds secrets anyway).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        trace_id: str | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.request_id = request_id
        self.trace_id = trace_id
        self.method = method
        self.path = path
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" on {self.method} {self.path}" if self.method and self.path else ""
        return f"{self.status} {self.message}{where}{self.ids}"

    @property
    def ids(self) -> str:
        """``" (request_id=…, trace_id=…)"`` with what Amperity sent, or ``""``."""
        parts = [f"request_id={self.request_id}"] if self.request_id else []
        if self.trace_id:
            parts.append(f"trace_id={self.trace_id}")
        return f" ({', '.join(parts)})" if parts else ""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, message={self.message!r}, "
            f"request_id={self.request_id!r}, trace_id={self.trace_id!r})"
        )


class BadRequestError(APIStatusError):
    """400: the request was malformed or used a deprecated api-version."""


class AuthenticationError(APIStatusError):
    """401: the token is missing, invalid or expired, or the api-version is not supported."""


class TokenExpiredError(AuthenticationError):
    """The static access token's ``exp`` claim is in the past; raised before sending."""

    def __init__(self, expired_at: datetime) -> None:
        self.expired_at = expired_at
        super().__init__(
            f"token expired at {expired_at.isoformat()}; generate a new API token in Amperity "
            "or configure OAuth client credentials",
            status=401,
        )


class PermissionDeniedError(APIStatusError):
    """403: the token is valid but lacks permission."""


class NotFoundError(APIStatusError):
    """404: the id does not exist (or the endpoint is not served under this api-version)."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the current state (e.g. stopping a finished run)."""


class RateLimitedError(APIStatusError):
    """429: the tenant's rate limit was exceeded (after retries)."""


class ServerError(APIStatusError):
    """5xx: Amperity failed (after retries)."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
}

_MAX_MESSAGE = 500


def _parse_body(body: bytes | str | None) -> dict[str, Any]:
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def make_status_error(
    status: int,
    body: bytes | str | None,
    *,
    headers: Any = None,
    method: str | None = None,
    path: str | None = None,
) -> APIStatusError:
    """Build the right :class:`APIStatusError` subclass for an error answer.

    This is the one place where status codes become exception classes.

    Args:
        status: The HTTP status code (>= 400).
        body: The raw response body; ``{"status", "message", "request_id", "trace_id"}``.
        headers: Response headers (a mapping); ``x-request-id``/``request-id`` and
            ``x-trace-id``/``traceparent`` are read when the body has no id.
        method: The request method, for the message.
        path: The request path, for the message.

    Returns:
        The exception instance (not raised).
    """
    parsed = _parse_body(body)
    message = parsed.get("message")
    if not isinstance(message, str) or not message:
        message = _default_message(status)
    message = message[:_MAX_MESSAGE]
    request_id = parsed.get("request_id")
    if not isinstance(request_id, str) and headers is not None:
        request_id = headers.get("x-request-id") or headers.get("request-id")
    if not isinstance(request_id, str):
        request_id = None
    trace_id = parsed.get("trace_id")
    if not isinstance(trace_id, str) and headers is not None:
        trace_id = headers.get("x-trace-id") or headers.get("traceparent")
    if not isinstance(trace_id, str):
        trace_id = None
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIStatusError)
    return cls(
        message, status=status, request_id=request_id, method=method, path=path,
        trace_id=trace_id,
    )


def _default_message(status: int) -> str:
    return {
        400: "bad request",
        401: "unauthorized",
        403: "forbidden",
        404: "not found",
        409: "conflict",
        429: "rate limited",
    }.get(status, "server error" if status >= 500 else "error")
