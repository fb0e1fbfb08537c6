"""Opaque page tokens: the position after the last item, bound to the query that made it.

Clients must treat tokens as opaque; the simulator encodes the sort key of the last item
served plus a fingerprint of the query's filters, so a token replayed with other filters is
refused (400) instead of silently returning a wrong page.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Iterable
from typing import Any


class PageTokenError(ValueError):
    """A ``next_token`` that this simulator did not issue for this query."""


def fingerprint(kind: str, filters: Iterable[tuple[str, str]]) -> int:
    """A short checksum of the list kind and its filter parameters."""
    text = kind + "?" + "&".join(f"{k}={v}" for k, v in sorted(filters))
    return zlib.crc32(text.encode())


def encode(key: tuple[Any, ...], print_: int) -> str:
    """An opaque token for the position after ``key``."""
    raw = json.dumps([print_, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw)).rstrip(b"=").decode("ascii")


def decode(token: str, print_: int) -> tuple[Any, ...]:
    """The key inside a token issued by :func:`encode` for the same query.

    Raises:
        PageTokenError: If the token is malformed or belongs to another query.
    """
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        values = json.loads(raw)
    except (ValueError, binascii.Error, zlib.error):
        raise PageTokenError("next_token is not a token this API issued.") from None
    if not isinstance(values, list) or len(values) < 2 or values[0] != print_:
        raise PageTokenError("next_token does not belong to this query (filters changed?).")
    return tuple(values[1:])
