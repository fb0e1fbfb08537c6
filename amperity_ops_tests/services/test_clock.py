"""Where "now" comes from: the system clock, or the demo simulator's accelerated clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from amperity_ops.services.clock import SimulatorClock, clock_from_env, utc_now
from amperity_ops.simulator import IN_PROCESS_BASE_URL, ManualClock, Simulator


def test_simulator_clock_reads_the_simulated_time(sim: Simulator, clock: ManualClock) -> None:
    """The simulator clock follows the simulator, not the wall clock."""
    read = SimulatorClock(IN_PROCESS_BASE_URL, transport=sim.transport())
    assert read() == clock.now()
    clock.advance(timedelta(hours=3))
    assert read() == clock.now()


def test_unreachable_simulator_falls_back_to_the_system_clock() -> None:
    """A simulator that cannot be reached gives the system time, not an exception."""
    read = SimulatorClock("http://127.0.0.1:9/api")
    assert abs((read() - utc_now()).total_seconds()) < 5


def test_clock_choice_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset means the system clock; a typo is an error naming the variable."""
    monkeypatch.delenv("AMPERITY_OPS_CLOCK", raising=False)
    assert clock_from_env(None) is utc_now
    monkeypatch.setenv("AMPERITY_OPS_CLOCK", "simulator")
    assert isinstance(clock_from_env("http://127.0.0.1:8765/api"), SimulatorClock)
    monkeypatch.setenv("AMPERITY_OPS_CLOCK", "sundial")
    with pytest.raises(ValueError, match="AMPERITY_OPS_CLOCK"):
        clock_from_env(None)
