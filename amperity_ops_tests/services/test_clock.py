"""Where "now" comes from: the system clock, or the demo simulator's accelerated clock."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from amperity_ops.services.clock import SimulatorClock, clock_from_env, clock_note, utc_now
from amperity_ops.simulator import IN_PROCESS_BASE_URL, ManualClock, Simulator, SystemClock
from amperity_ops_tests.conftest import _spec


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


def test_simulator_times_are_labelled_with_speed_and_offset() -> None:
    """The note names the simulator clock, its speed, the (sim) mark and sim vs real now."""
    sim = Simulator([_spec(schedules=False)], clock=SystemClock(speed=10), rate_limit_rps=None)
    read = SimulatorClock(IN_PROCESS_BASE_URL, transport=sim.transport())
    now = read()
    note = clock_note(read, now)
    assert note is not None
    assert note.startswith("simulator clock, 10x faster than real time; times marked (sim) ")
    assert re.search(rf"\(sim now {now:%H:%M}Z = real \d\d:\d\dZ\)$", note)


def test_system_clock_times_need_no_label() -> None:
    """Real times are not labelled: no note for the system clock."""
    assert clock_note(utc_now, utc_now()) is None
