"""Auth modes: JWT exp reading, expiry warnings and errors, OAuth lazy fetch and refresh."""

from __future__ import annotations

import base64
import json
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from amperity_ops.client import AuthenticationError, TokenExpiredError, TokenExpiryWarning
from amperity_ops.client._auth import OAuthClientCredentials, StaticTokenAuth, jwt_expiry

NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def make_jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT-shaped token with the given claims."""
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


class Clock:
    """A settable UTC clock."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Answer:
    """What the fake token endpoint returns."""

    status_code: int
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)


class TokenEndpoint:
    """A fake fetcher that issues numbered tokens (a pure unit: no HTTP involved)."""

    def __init__(self, expires_in: int = 3600, status: int = 200, delay: float = 0.0) -> None:
        self.calls: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.expires_in = expires_in
        self.status = status
        self.delay = delay

    def __call__(self, url: str, form: dict[str, str], headers: dict[str, str]) -> Answer:
        self.calls.append((url, form, headers))
        time.sleep(self.delay)
        if self.status != 200:
            return Answer(self.status, b'{"status": 401, "message": "invalid client"}')
        body = {"access_token": f"tok-{len(self.calls)}", "expires_in": self.expires_in,
                "token_type": "Bearer"}
        return Answer(200, json.dumps(body).encode())


def oauth(endpoint: TokenEndpoint, clock: Clock) -> OAuthClientCredentials:
    return OAuthClientCredentials(
        client_id="cid", client_secret="s3cret-value", token_url="https://x/api/v0/oauth2/token",
        tenant_id="acme", fetch=endpoint, clock=clock,
    )


def test_jwt_expiry_reads_exp_without_verifying() -> None:
    """The exp claim of a JWT is read as a UTC datetime; non-JWTs and bad claims give None."""
    exp = int((NOW + timedelta(days=3)).timestamp())
    assert jwt_expiry(make_jwt({"exp": exp})) == NOW + timedelta(days=3)
    assert jwt_expiry("not-a-jwt") is None
    assert jwt_expiry("a.!!!.c") is None
    assert jwt_expiry(make_jwt({"sub": "x"})) is None
    assert jwt_expiry(make_jwt({"exp": "tomorrow"})) is None


def test_expired_static_token_raises_token_expired_at_before_sending() -> None:
    """A static token past its exp raises TokenExpiredError saying when it expired."""
    clock = Clock()
    auth = StaticTokenAuth(make_jwt({"exp": int((NOW - timedelta(hours=1)).timestamp())}),
                           clock=clock)
    with pytest.raises(TokenExpiredError, match="token expired at 2026-11-01T01:00:00"):
        auth.get_token()
    assert isinstance(auth.expired_error(), TokenExpiredError)


def test_static_token_warns_once_days_ahead() -> None:
    """A token expiring within the warning window warns once, not on every request."""
    token = make_jwt({"exp": int((NOW + timedelta(days=2)).timestamp())})
    auth = StaticTokenAuth(token, clock=Clock(), warn_within=timedelta(days=7))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert auth.get_token() == token
        auth.get_token()
    expiry = [w for w in caught if issubclass(w.category, TokenExpiryWarning)]
    assert len(expiry) == 1
    assert "2026-11-03" in str(expiry[0].message)
    assert token not in str(expiry[0].message)


def test_static_token_without_exp_leaves_the_decision_to_the_server() -> None:
    """An opaque token is sent as is and never reported expired by the client."""
    auth = StaticTokenAuth("opaque-token", clock=Clock())
    assert auth.get_token() == "opaque-token"
    assert auth.expired_error() is None
    assert auth.on_unauthorized("opaque-token") is False


def test_static_token_repr_hides_the_token() -> None:
    """The repr of a static auth never shows the token."""
    assert "opaque-token" not in repr(StaticTokenAuth("opaque-token"))


def test_oauth_fetches_lazily_with_the_documented_form_and_header() -> None:
    """No fetch at construction; the first get_token POSTs grant_type/client_id/secret."""
    endpoint = TokenEndpoint()
    auth = oauth(endpoint, Clock())
    assert endpoint.calls == []
    assert auth.get_token() == "tok-1"
    url, form, headers = endpoint.calls[0]
    assert url == "https://x/api/v0/oauth2/token"
    assert form == {"grant_type": "client_credentials", "client_id": "cid",
                    "client_secret": "s3cret-value"}
    assert headers["X-Amperity-Tenant"] == "acme"
    assert auth.get_token() == "tok-1"
    assert len(endpoint.calls) == 1


def test_oauth_refreshes_before_expiry() -> None:
    """The token is refreshed a skew before it expires, not after."""
    clock = Clock()
    endpoint = TokenEndpoint(expires_in=3600)
    auth = oauth(endpoint, clock)
    assert auth.get_token() == "tok-1"
    clock.now += timedelta(seconds=3500)
    assert auth.get_token() == "tok-1"
    clock.now += timedelta(seconds=50)  # 3550 s: inside the 60 s skew
    assert auth.get_token() == "tok-2"


def test_oauth_short_lived_tokens_are_not_refreshed_on_every_call() -> None:
    """A token shorter-lived than the skew is still used for half its lifetime."""
    clock = Clock()
    endpoint = TokenEndpoint(expires_in=30)
    auth = oauth(endpoint, clock)
    auth.get_token()
    clock.now += timedelta(seconds=10)
    auth.get_token()
    assert len(endpoint.calls) == 1


def test_oauth_refreshes_once_on_unauthorized() -> None:
    """After a 401 the stale token is dropped and the next call fetches a new one."""
    endpoint = TokenEndpoint()
    auth = oauth(endpoint, Clock())
    stale = auth.get_token()
    assert auth.on_unauthorized(stale) is True
    assert auth.get_token() == "tok-2"
    # A second 401 for the *old* token (another thread) does not fetch again.
    auth.on_unauthorized(stale)
    assert auth.get_token() == "tok-2"


def test_oauth_refresh_runs_once_across_threads() -> None:
    """Eight threads needing a token at once cause exactly one fetch."""
    endpoint = TokenEndpoint(delay=0.05)
    auth = oauth(endpoint, Clock())
    tokens: list[str] = []
    threads = [threading.Thread(target=lambda: tokens.append(auth.get_token())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tokens == ["tok-1"] * 8
    assert len(endpoint.calls) == 1


def test_oauth_rejected_credentials_raise_authentication_error_without_the_secret() -> None:
    """A 401 from the token endpoint is an AuthenticationError that never shows the secret."""
    auth = oauth(TokenEndpoint(status=401), Clock())
    with pytest.raises(AuthenticationError) as info:
        auth.get_token()
    assert "s3cret-value" not in str(info.value)
    assert "s3cret-value" not in repr(info.value)
    assert "s3cret-value" not in repr(auth)
