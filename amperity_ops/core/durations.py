"""Durations as people write them in the policy file (``45s``, ``90m``, ``2h``, ``1d``).

Pure functions, no imports from the rest of the package (part of the neutral core), so the
settings, the alerts, the CLI and the metadata all word durations the same way.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = [
    "compact_duration",
    "format_duration",
    "hours_duration",
    "parse_duration",
    "short_duration",
]

_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+$")


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """Read a positive duration such as ``45s``, ``90m``, ``2h``, ``1d`` or ``1h30m``.

    A bare number is read as seconds (so ``warn_after: 300`` works), a ``timedelta`` passes.

    Args:
        value: The text (units ms, s, m, h, d, w; parts may be combined), a number of seconds,
            or a timedelta.

    Returns:
        The duration.

    Raises:
        ValueError: The text is not a duration, or it is zero or negative.
    """
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, bool):  # bool is an int: `warn_after: yes` is a typo, not 1 s
        raise ValueError(f"expected a duration like 45s, 90m, 2h or 1d, got {value!r}")
    elif isinstance(value, int | float):
        result = timedelta(seconds=value)
    elif isinstance(value, str) and _WHOLE.match(value.lower()):
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(value.lower()))
        result = timedelta(seconds=seconds)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", value):
        result = timedelta(seconds=float(value))
    else:
        raise ValueError(f"expected a duration like 45s, 90m, 2h or 1d, got {value!r}")
    if result <= timedelta(0):
        raise ValueError(f"a duration must be positive, got {value!r}")
    return result


def format_duration(value: timedelta | float | None) -> str:
    """Render a duration for people: ``2h 05m``, ``12m 30s``, ``45s``; ``-`` for None.

    Args:
        value: A timedelta or a number of seconds (negative values get a leading minus).

    Returns:
        A short text with at most two units.
    """
    if value is None:
        return "-"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    sign = "-" if seconds < 0 else ""
    total = round(abs(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours:02d}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s"
    return f"{sign}{secs}s"


def short_duration(value: timedelta | float | None) -> str:
    """Like :func:`format_duration` without zero parts: ``10m``, ``2h``, ``1h 30m``, ``4m 01s``.

    Used where a limit is quoted next to a measurement (``max 10m``): a round limit reads
    better without ``00s``.
    """
    text = format_duration(value)
    for zero in (" 00s", " 00m", " 00h"):
        text = text.removesuffix(zero)
    return text


def compact_duration(value: timedelta | float | None) -> str:
    """:func:`short_duration` without the space, for dense log lines: ``29m29s``, ``10m``."""
    return short_duration(value).replace(" ", "")


def hours_duration(value: timedelta | None) -> str:
    """``1h 05m``, ``12m 30s``, ``45s``, ``24h``, ``36h 30m``; ``-`` for None (metadata tables).

    A day and more is shown in hours (``24h``, not ``1d 00h``): windows and runtimes there are
    read against hour-sized limits. Seconds are truncated, not rounded.
    """
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if hours >= 24:
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"
