"""Simulated time is labelled where it appears, and real durations are measured on real time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from amperity_ops.defs.sensors import SensorCursor, not_due_yet
from amperity_ops.services.poll import PollReport
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops_tests.cli.conftest import RunCli
from amperity_ops_tests.conftest import TENANT


class FastClock(ManualClock):
    """Simulated time that leaps 10 minutes each time it is read: hours pass in a real second."""

    def now(self) -> datetime:
        return self.advance(timedelta(minutes=10))


@pytest.fixture
def clock() -> ManualClock:
    """The simulator's clock for this module: far faster than real time."""
    return FastClock(datetime.now(UTC) - timedelta(days=1))


def test_backfill_reports_real_time_taken_and_marks_simulated_times(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a simulated clock that runs hours per real second, the backfill took seconds: it says
    so (not the simulated hours), and its `since` time is marked (sim)."""
    monkeypatch.setenv("AMPERITY_OPS_CLOCK", "simulator")
    sim.tenant(TENANT).add_run(name="A", state="succeeded", started_ago=timedelta(hours=5),
                               ended_ago=timedelta(hours=4))
    result = run_cli("backfill", "--since", "2d")
    assert result.exit_code == 0, result.output
    line = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(rf"{TENANT}: \d+ runs since \S+ \d\d:\d\dZ \(sim\) stored "
                        r"\(took \d{1,2}s\)", line), line


def test_sensor_waiting_reason_marks_simulated_times() -> None:
    """The 'waiting' skip reason marks both times when they come from a simulated clock."""
    last = datetime(2026, 11, 1, 15, 11, tzinfo=UTC)
    text = not_due_yet(SensorCursor(last_tick_at=last), last + timedelta(seconds=30),
                       timedelta(minutes=5), " (sim)")
    assert text is not None
    assert "the last check was at 15:11:00 UTC (sim), the next is due at 15:16:00 UTC (sim)" \
        in text


def test_poll_summary_marks_its_since_time() -> None:
    """The asset's `polled` line marks the listing's start time with the clock's mark."""
    report = PollReport(tenant="acme", polled_at=datetime(2026, 11, 1, 15, 20, tzinfo=UTC),
                        listed_from=datetime(2026, 11, 1, 15, 11, tzinfo=UTC), listed=3)
    assert report.summary(" (sim)").startswith("3 listed since 2026-11-01 15:11 UTC (sim), ")
    assert report.summary().startswith("3 listed since 2026-11-01 15:11 UTC, ")
