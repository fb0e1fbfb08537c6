"""Where the bearer token comes from: a static token, or OAuth client credentials.

* :class:`StaticTokenAuth`: a token a person generated in Amperity's UI. When it is a JWT with
  an ``exp`` claim (read without checking the signature: we only want the date), the client
  warns days ahead of expiry and, once it has expired, raises :class:`TokenExpiredError`
  ("token expired at …") *before* sending, instead of a bare 401. Without ``exp``, the server
  decides.
* :class:`OAuthClientCredentials`: fetches a token lazily from the token endpoint, refreshes it
  before it expires (with a skew), and once more when the server answers 401. One refresh runs
  at a time across threads; the others wait for it and use its result.

Tokens are held as :class:`pydantic.SecretStr` so that no repr, log or traceback shows them.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import SecretStr

from amperity_ops.client.errors import (
    AmperityError,
    AuthenticationError,
    TokenExpiredError,
    make_status_error,
)

__all__ = [
    "Auth",
    "OAuthClientCredentials",
    "StaticTokenAuth",
    "TokenExpiryWarning",
    "TokenResponse",
    "jwt_expiry",
]

logger = logging.getLogger("amperity_ops.client")

DEFAULT_WARN_WITHIN = timedelta(days=7)
DEFAULT_REFRESH_SKEW = timedelta(seconds=60)


class TokenExpiryWarning(UserWarning):
    """The static access token expires soon."""


class Auth(Protocol):
    """What the request loop needs from an auth mode."""

    def get_token(self) -> str:
        """The token to send now (may fetch one; may raise ``TokenExpiredError``)."""
        ...

    def on_unauthorized(self, token: str) -> bool:
        """The server said 401 to ``token``: return True if retrying with a new one may help."""
        ...

    def expired_error(self) -> TokenExpiredError | None:
        """If the token is known to have expired, the error saying so; else None."""
        ...


def jwt_expiry(token: str) -> datetime | None:
    """Read the ``exp`` claim of a JWT without verifying it.

    Args:
        token: A token that may or may not be a JWT.

    Returns:
        The expiry as a UTC datetime, or None when the token is not a JWT or has no ``exp``.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    try:
        return datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


class StaticTokenAuth:
    """A fixed bearer token, with its JWT ``exp`` (if any) used to warn and to fail clearly.

    Args:
        token: The token.
        clock: Returns the current UTC time (injectable for tests).
        warn_within: Warn (once) when the token expires within this long.
    """

    def __init__(
        self,
        token: str | SecretStr,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        warn_within: timedelta = DEFAULT_WARN_WITHIN,
    ) -> None:
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        if not self._token.get_secret_value():
            raise ValueError("access_token must not be empty")
        self._clock = clock
        self._warn_within = warn_within
        self._warned = False
        self.expires_at = jwt_expiry(self._token.get_secret_value())
        """When the token expires according to its ``exp`` claim, or None if unknown."""

    def get_token(self) -> str:
        """Return the token, warning once if it expires soon.

        Raises:
            TokenExpiredError: If its ``exp`` claim is in the past.
        """
        if self.expires_at is not None:
            now = self._clock()
            if now >= self.expires_at:
                raise TokenExpiredError(self.expires_at)
            if not self._warned and self.expires_at - now <= self._warn_within:
                self._warned = True
                left = self.expires_at - now
                message = (
                    f"the Amperity access token expires at {self.expires_at.isoformat()} "
                    f"(in {_human(left)}); generate a new one or use OAuth client credentials"
                )
                logger.warning(message)
                warnings.warn(message, TokenExpiryWarning, stacklevel=4)
        return self._token.get_secret_value()

    def on_unauthorized(self, token: str) -> bool:
        """A static token cannot be refreshed: never retry a 401."""
        return False

    def expired_error(self) -> TokenExpiredError | None:
        """The ``TokenExpiredError`` to raise instead of a 401, if ``exp`` has passed."""
        if self.expires_at is not None and self._clock() >= self.expires_at:
            return TokenExpiredError(self.expires_at)
        return None

    def __repr__(self) -> str:
        return f"StaticTokenAuth(token=**********, expires_at={self.expires_at!r})"


class TokenResponse(Protocol):
    """The little the OAuth flow needs from an HTTP answer."""

    @property
    def status_code(self) -> int:
        """The HTTP status."""
        ...

    @property
    def content(self) -> bytes:
        """The raw body."""
        ...

    @property
    def headers(self) -> Any:
        """The response headers (a mapping)."""
        ...


TokenFetcher = Callable[[str, dict[str, str], dict[str, str]], TokenResponse]
"""``fetch(url, form, headers)``: POSTs the form and returns the answer (the client's loop)."""


class OAuthClientCredentials:
    """OAuth 2.0 client credentials: lazy fetch, early refresh, one refresh more on a 401.

    Args:
        client_id: The API key's client id.
        client_secret: The API key's secret.
        token_url: The token endpoint (default: ``{base_url}/v0/oauth2/token``).
        tenant_id: Sent as ``X-Amperity-Tenant``.
        fetch: POSTs a form; supplied by the client so the budget and retries apply.
        clock: Returns the current UTC time (injectable for tests).
        refresh_skew: Refresh this long before the token expires (at most half its lifetime).
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str | SecretStr,
        token_url: str,
        tenant_id: str,
        fetch: TokenFetcher,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        refresh_skew: timedelta = DEFAULT_REFRESH_SKEW,
    ) -> None:
        if not client_id:
            raise ValueError("client_id must not be empty")
        self.client_id = client_id
        self._secret = (
            client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        )
        if not self._secret.get_secret_value():
            raise ValueError("client_secret must not be empty")
        self.token_url = token_url
        self.tenant_id = tenant_id
        self._fetch = fetch
        self._clock = clock
        self._skew = refresh_skew
        self._lock = threading.Lock()
        self._token: SecretStr | None = None
        self._refresh_at: datetime | None = None
        self.expires_at: datetime | None = None
        """When the current token expires (None before the first fetch)."""
        self.refreshes = 0
        """How many tokens were fetched (for tests and metrics)."""

    def get_token(self) -> str:
        """Return a valid token, fetching or refreshing it first when needed."""
        with self._lock:
            if (
                self._token is None
                or self._refresh_at is None
                or self._clock() >= self._refresh_at
            ):
                self._refresh()
            assert self._token is not None
            return self._token.get_secret_value()

    def on_unauthorized(self, token: str) -> bool:
        """Drop ``token`` so the next :meth:`get_token` fetches a new one.

        If another thread already replaced it, nothing is fetched twice.
        """
        with self._lock:
            if self._token is not None and self._token.get_secret_value() == token:
                self._token = None
        return True

    def expired_error(self) -> TokenExpiredError | None:
        """OAuth tokens are refreshed, never reported as expired."""
        return None

    def _refresh(self) -> None:
        issued = self._clock()
        answer = self._fetch(
            self.token_url,
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._secret.get_secret_value(),
            },
            {"X-Amperity-Tenant": self.tenant_id, "Accept": "application/json"},
        )
        if answer.status_code >= 400:
            raise make_status_error(
                answer.status_code, answer.content, headers=answer.headers,
                method="POST", path=_path_of(self.token_url),
            )
        try:
            body = json.loads(answer.content)
            token = body["access_token"]
            expires_in = float(body.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError):
            raise AuthenticationError(
                "the token endpoint answered without a usable access_token",
                status=answer.status_code, method="POST", path=_path_of(self.token_url),
            ) from None
        if not isinstance(token, str) or not token:
            raise AmperityError("the token endpoint answered an empty access_token")
        lifetime = timedelta(seconds=max(expires_in, 0.0))
        self._token = SecretStr(token)
        self.expires_at = issued + lifetime
        self._refresh_at = issued + max(lifetime - self._skew, lifetime / 2)
        self.refreshes += 1
        logger.debug("fetched an OAuth token valid until %s", self.expires_at.isoformat())

    def __repr__(self) -> str:
        return (
            f"OAuthClientCredentials(client_id={self.client_id!r}, client_secret=**********, "
            f"token_url={self.token_url!r})"
        )


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path


def _human(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"
