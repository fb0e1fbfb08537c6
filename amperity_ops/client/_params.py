"""Checks and formatting of what callers pass in, done before anything is sent.

* **Ids** go into URL paths. One that is empty, has whitespace, ``/``, ``?``, ``#`` or ``..``
  could address a different resource than the caller meant (``wf-1/stop``), so it is refused
  with a ``ValueError`` naming the parameter.
* **Datetimes**: the API speaks UTC. A *naive* datetime is treated as UTC (the API's own
  convention, and what ``datetime.utcnow()``-style code means); an aware one is converted to
  UTC. A ``date`` means midnight UTC of that day. Strings must be ISO-8601 and are parsed the
  same way, so a typo fails here, naming the parameter, rather than at the server.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from amperity_ops.client.models import ensure_utc

__all__ = ["TimeLike", "check_id", "format_time", "to_utc"]

TimeLike = datetime | date | str
"""What every time parameter accepts."""

_FORBIDDEN_IN_ID = re.compile(r"[\s/?#%\\]")


def check_id(value: object, name: str) -> str:
    """Return ``value`` if it is safe to put in a URL path, else raise ``ValueError``.

    Args:
        value: The id the caller passed.
        name: The parameter name, for the message.

    Returns:
        The id, unchanged.

    Raises:
        ValueError: If it is not a non-empty string free of whitespace, ``/``, ``?``, ``#``,
            ``%``, ``\\`` and ``..``.
    """
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    if _FORBIDDEN_IN_ID.search(value) or ".." in value or value == ".":
        raise ValueError(
            f"{name} {value!r} is not a valid id: it must not contain whitespace, '/', '?', "
            "'#', '%', '\\' or '..'"
        )
    return value


def to_utc(value: TimeLike, name: str) -> datetime:
    """Turn a time parameter into a UTC-aware datetime (naive means UTC).

    Args:
        value: A datetime, a date (midnight UTC) or an ISO-8601 string.
        name: The parameter name, for the message.

    Returns:
        The UTC-aware datetime.

    Raises:
        ValueError: If the value is not a time.
    """
    if isinstance(value, datetime):
        return ensure_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return ensure_utc(datetime.fromisoformat(text))
        except ValueError:
            raise ValueError(
                f"{name} {value!r} is not an ISO-8601 time (e.g. 2026-11-01T02:00:00Z)"
            ) from None
    raise ValueError(
        f"{name} must be a datetime, date or ISO-8601 string, got {type(value).__name__}"
    )


def format_time(value: TimeLike, name: str) -> str:
    """Format a time parameter the way the API wants it: ISO-8601 UTC with a ``Z``.

    Args:
        value: A datetime, a date or an ISO-8601 string.
        name: The parameter name, for the message.

    Returns:
        E.g. ``"2026-11-01T02:00:00Z"``.
    """
    return to_utc(value, name).isoformat().replace("+00:00", "Z")
