"""Input checks: unsafe ids are refused, times become UTC ISO-8601 (naive means UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from amperity_ops.client._params import check_id, format_time, to_utc


@pytest.mark.parametrize(
    "bad", ["", " ", "wf-1 ", "wf 1", "wf-1/stop", "a?b", "a#b", "..", "wf-..-1", "a\tb", "%2F"]
)
def test_unsafe_ids_raise_value_error_naming_the_parameter(bad: str) -> None:
    """Empty ids, whitespace, '/', '?', '#', '..' and escapes raise ValueError naming the field."""
    with pytest.raises(ValueError, match="workflow_id"):
        check_id(bad, "workflow_id")


def test_non_string_ids_are_refused() -> None:
    """An id that is not a string raises ValueError."""
    with pytest.raises(ValueError, match="job_id must be a string"):
        check_id(None, "job_id")


def test_real_ids_pass_unchanged() -> None:
    """Amperity-shaped ids pass through untouched."""
    assert check_id("wf-20240619-14418-6UhqSe", "id") == "wf-20240619-14418-6UhqSe"
    assert check_id("isj-20240827-54061-2l6XhD", "id") == "isj-20240827-54061-2l6XhD"


def test_naive_datetimes_are_treated_as_utc() -> None:
    """A naive datetime means UTC; an aware one is converted; a date is midnight UTC."""
    assert format_time(datetime(2026, 11, 1, 2, 0), "created_from") == "2026-11-01T02:00:00Z"
    plus2 = datetime(2026, 11, 1, 4, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(plus2, "created_from") == "2026-11-01T02:00:00Z"
    assert format_time(date(2026, 11, 1), "created_from") == "2026-11-01T00:00:00Z"


def test_strings_are_parsed_and_bad_ones_name_the_parameter() -> None:
    """ISO strings (Z or offset) are accepted; a non-time string names the parameter."""
    assert to_utc("2026-11-01T02:00:00Z", "x") == datetime(2026, 11, 1, 2, tzinfo=UTC)
    assert to_utc("2026-11-01", "x") == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="ended_to"):
        to_utc("yesterday", "ended_to")
    with pytest.raises(ValueError, match="ended_to"):
        to_utc(12, "ended_to")  # type: ignore[arg-type]
