"""Durations and runtime statistics, table-driven."""

from __future__ import annotations

from datetime import timedelta

import pytest

from amperity_ops.monitoring import (
    counts_by_state,
    format_duration,
    parse_duration,
    percentile,
    runtime_stats_by_workflow,
)
from amperity_ops_tests.monitoring.helpers import NOW, run


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("90m", timedelta(minutes=90)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(minutes=90)),
        ("1h 30m", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("2H", timedelta(hours=2)),
        (300, timedelta(seconds=300)),
        ("300", timedelta(seconds=300)),
        (timedelta(hours=1), timedelta(hours=1)),
    ],
)
def test_parse_duration_accepts(text: str | int | timedelta, expected: timedelta) -> None:
    """Durations in the policy file's units (and bare seconds) parse to timedeltas."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2x", "h", "-5m", "0s", "5 minutes", True, "1h-30m"])
def test_parse_duration_rejects(text: str | bool) -> None:
    """Anything else (unknown unit, zero, negative, booleans) is a ValueError."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "-"),
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=12, seconds=30), "12m 30s"),
        (timedelta(hours=2, minutes=5), "2h 05m"),
        (timedelta(days=1, hours=3), "1d 03h"),
        (-90.0, "-1m 30s"),
    ],
)
def test_format_duration(value: timedelta | float | None, expected: str) -> None:
    """Durations render with at most two units for people."""
    assert format_duration(value) == expected


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, None),
        ([7.0], 95, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([10.0, 1.0, 5.0], 0, 1.0),
        ([10.0, 1.0, 5.0], 100, 10.0),
        ([float(i) for i in range(1, 101)], 95, 95.05),
    ],
)
def test_percentile(values: list[float], p: float, expected: float | None) -> None:
    """Percentiles interpolate linearly between closest ranks; empty input gives None."""
    result = percentile(values, p)
    assert result == expected if expected is None else result == pytest.approx(expected)


def test_runtime_stats_and_counts() -> None:
    """Stats group ended runs by workflow name; counts group all runs by state kind."""
    runs = [
        run("wf-1", name="A", runtime=timedelta(minutes=10), ended=True, state="succeeded"),
        run("wf-2", name="A", runtime=timedelta(minutes=30), ended=True, state="failed"),
        run("wf-3", name="B", runtime=timedelta(minutes=5), ended=True, state="succeeded"),
        run("wf-4", name="A", runtime=timedelta(hours=9)),  # still running: not counted
        run("wf-5", name="C", state="Quantum Tunneling"),
    ]
    stats = runtime_stats_by_workflow(runs, NOW)
    assert list(stats) == ["A", "B"]
    assert stats["A"].count == 2
    assert stats["A"].p50_s == pytest.approx(1200)
    assert stats["A"].max_s == pytest.approx(1800)
    assert counts_by_state(runs) == {"succeeded": 2, "failed": 1, "running": 1, "unknown": 1}
