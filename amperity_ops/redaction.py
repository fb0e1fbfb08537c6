"""Scrubbing credentials out of text meant for people: logs, metadata, CLI output.

Our own exceptions never carry a secret; this is the second line of defence wherever an
exception, a URL or a configuration value is formatted into something a person reads. Alert
sinks have their own, stricter scrubber (``amperity_ops.alerts._http.redact`` removes every URL,
since a webhook's URL *is* its secret).
"""

from __future__ import annotations

import os
import re

__all__ = ["redact"]

# Credentials inside URLs (``postgresql://user:password@host``) and bearer tokens.
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]+@")
_BEARER = re.compile(r"(?i)(bearer\s+)[\w.~+/=-]+")
_JWT = re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*")
_SECRET_ENV_HINTS = ("TOKEN", "SECRET", "PASSWORD", "ROUTING_KEY", "WEBHOOK")
_MIN_SECRET_LEN = 6  # shorter values would blank out ordinary words


def redact(text: str, *secrets: str | None) -> str:
    """Removes credentials from a message.

    Scrubs the given secrets, passwords in URLs, bearer tokens, JWT-shaped strings and the value
    of every environment variable whose name says it holds a secret (``*_TOKEN``, ``*_SECRET``,
    ...).

    Args:
        text: Any message about to be shown to a person.
        secrets: Known secret values to remove as well (None and short values are ignored).

    Returns:
        The message with each credential replaced by ``***``.
    """
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET_LEN:
            text = text.replace(secret, "***")
    for name, value in os.environ.items():
        if len(value) >= _MIN_SECRET_LEN and any(
            hint in name.upper() for hint in _SECRET_ENV_HINTS
        ):
            text = text.replace(value, "***")
    text = _URL_PASSWORD.sub(r"\g<scheme>\g<user>:***@", text)
    text = _BEARER.sub(r"\g<1>***", text)
    return _JWT.sub("***", text)
