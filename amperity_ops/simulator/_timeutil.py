"""Parsing and formatting of the API's timestamps, including partial dates.

The API accepts ISO-8601 UTC values with any precision (``2026``, ``2026-06``,
``2026-06-01``, ``2026-06-01T04``, ``2026-06-01T04:02``, full timestamps). A partial value
names a period: as a lower bound (``*_from``) it means the period's first instant, as an
upper bound (``*_to``) the instant just after the period, so ``created_to=2026-06`` includes
all of June. Full timestamps are used as given (lower bound inclusive, upper bound exclusive).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_PARTIAL = re.compile(
    r"^(?P<year>\d{4})"
    r"(?:-(?P<month>\d{2})"
    r"(?:-(?P<day>\d{2})"
    r"(?:[T ](?P<hour>\d{2})"
    r"(?::(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?P<fraction>\.\d+)?)?)?)?)?)?"
    r"(?P<tz>Z|z|[+-]\d{2}:?\d{2})?$"
)


class TimeParseError(ValueError):
    """A query value is not an ISO-8601 date or timestamp."""


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    return moment.replace(year=moment.year + month_index // 12, month=month_index % 12 + 1)


def parse_bound(value: str, *, upper: bool) -> float:
    """Parse a (possibly partial) ISO-8601 value into epoch seconds.

    Args:
        value: The text from the query string.
        upper: True for an upper bound (``*_to``): a partial value then means the end of
            the period it names.

    Returns:
        Epoch seconds (UTC).

    Raises:
        TimeParseError: If the value is not ISO-8601.
    """
    match = _PARTIAL.match(value.strip())
    if not match:
        raise TimeParseError(f"not an ISO-8601 date or timestamp: {value!r}")
    parts = match.groupdict()
    try:
        moment = datetime(
            int(parts["year"]),
            int(parts["month"] or 1),
            int(parts["day"] or 1),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            int(float(parts["fraction"] or 0) * 1_000_000),
            tzinfo=UTC,
        )
    except ValueError as err:
        raise TimeParseError(f"not a valid date: {value!r} ({err})") from None
    tz = parts["tz"]
    if tz and tz.upper() != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        moment -= sign * offset
    if upper:
        if parts["month"] is None:
            moment = moment.replace(year=moment.year + 1)
        elif parts["day"] is None:
            moment = _add_months(moment, 1)
        elif parts["hour"] is None:
            moment += timedelta(days=1)
        elif parts["minute"] is None:
            moment += timedelta(hours=1)
        elif parts["second"] is None:
            moment += timedelta(minutes=1)
    return moment.timestamp()


def iso(ts: float) -> str:
    """Format epoch seconds the way the API does: ``2026-06-19T04:00:18.764Z``."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def to_epoch(moment: datetime) -> float:
    """Epoch seconds of a timezone-aware datetime."""
    if moment.tzinfo is None:
        raise ValueError(f"datetime must be timezone-aware, got {moment.isoformat()}")
    return moment.timestamp()
