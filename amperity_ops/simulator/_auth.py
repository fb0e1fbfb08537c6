"""Bearer tokens the simulated tenants accept: static ones and JWT-shaped minted ones.

Minted tokens look like Amperity's (three base64url parts with an ``exp`` claim a client can
read without verifying the signature) and are signed with the simulator's own HMAC key, so
the simulator recognises them without remembering each one. Static tokens are plain strings
configured per tenant; if one happens to be JWT-shaped its ``exp`` is honoured too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def read_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT-shaped token (unverified), or None if it is not JWT-shaped."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(_unb64(parts[1]))
    except (ValueError, binascii.Error):
        return None
    return claims if isinstance(claims, dict) else None


@dataclass(frozen=True)
class Principal:
    """Who a valid token belongs to (shown on runs it starts and on audit events)."""

    principal_id: str
    name: str
    email: str
    read_only: bool = False

    def as_tuple(self) -> tuple[str, str, str]:
        """(id, name, email), the shape runs and audit events store."""
        return (self.principal_id, self.name, self.email)


class TokenRejectedError(Exception):
    """The bearer token is missing, unknown, for another tenant, or expired (-> 401)."""


class TokenAuthority:
    """Mints and checks tokens for every tenant of one simulator."""

    def __init__(self, signing_key: bytes) -> None:
        self._key = signing_key

    def mint(
        self,
        tenant_id: str,
        *,
        expires_at: float,
        issued_at: float,
        subject: str,
        read_only: bool = False,
    ) -> str:
        """A JWT-shaped token for ``tenant_id`` that expires at epoch ``expires_at``."""
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {
            "iss": "https://simulator.amperity-ops.local",
            "sub": subject,
            "tenant": tenant_id,
            "iat": int(issued_at),
            "exp": int(expires_at),
            "scope": "read" if read_only else "read write",
        }
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def _signed_by_us(self, token: str) -> bool:
        header, payload, signature = token.split(".")
        expected = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        try:
            return hmac.compare_digest(_unb64(signature), expected)
        except (ValueError, binascii.Error):
            return False

    def check(
        self,
        token: str,
        *,
        tenant_id: str,
        static_tokens: frozenset[str],
        now: float,
        read_only_tokens: frozenset[str] = frozenset(),
    ) -> Principal:
        """Validate a bearer token for ``tenant_id`` at epoch ``now``.

        Raises:
            TokenRejectedError: With a message safe to show (it never contains the token).
        """
        claims = read_claims(token)
        if token in static_tokens or token in read_only_tokens:
            exp = claims.get("exp") if claims is not None else None
            if isinstance(exp, int | float) and exp <= now:
                raise TokenRejectedError("The access token has expired.")
            return Principal(f"api-key|{tenant_id}-static", "Static API token",
                             f"api@{tenant_id}.com", read_only=token in read_only_tokens)
        if claims is None or not self._signed_by_us(token):
            raise TokenRejectedError("The access token is not valid.")
        if claims.get("tenant") != tenant_id:
            raise TokenRejectedError("The access token is not valid for this tenant.")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= now:
            raise TokenRejectedError("The access token has expired.")
        subject = str(claims.get("sub", "api-key"))
        return Principal(f"api-key|{subject}", f"API key {subject}", f"api@{tenant_id}.com",
                         read_only=claims.get("scope") == "read")
