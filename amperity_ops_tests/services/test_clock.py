"""Where "now" comes from: the system clock, or the demo simulator's accelerated clock."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from amperity_ops.core.clock import SystemClock as RealClock
from amperity_ops.core.clock import clock_label, clock_mark, clock_name
from amperity_ops.services.clock import clock_from_env, utc_now
from amperity_ops.simulator import IN_PROCESS_BASE_URL, ManualClock, Simulator, SystemClock
from amperity_ops.simulator.clock import SimulatorClock
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
    note = clock_label(read, now)
    assert note is not None
    assert note.startswith("simulator clock, 10x faster than real time; times marked (sim) ")
    assert re.search(rf"\(sim now {now:%H:%M}Z = real \d\d:\d\dZ\)$", note)


def test_system_clock_times_need_no_label() -> None:
    """Real times are not labelled: no note for the system clock."""
    assert clock_label(utc_now, utc_now()) is None


def test_simulated_times_are_marked_and_named_for_what_they_are(sim: Simulator) -> None:
    """The simulator clock marks its times ' (sim)' and names itself; real clocks do neither."""
    read = SimulatorClock(IN_PROCESS_BASE_URL, transport=sim.transport())
    assert (clock_mark(read), clock_name(read)) == (" (sim)", "simulator clock")
    for real in (utc_now, RealClock()):
        assert clock_label(real, utc_now()) is None
        assert (clock_mark(real), clock_name(real)) == ("", None)


def test_a_clock_can_be_plugged_in_by_module_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `module:factory` value is imported and called with the base URL; case is kept."""
    monkeypatch.setenv("AMPERITY_OPS_CLOCK", "amperity_ops.simulator.clock:simulator_clock")
    plugged = clock_from_env("http://127.0.0.1:8765/api")
    assert isinstance(plugged, SimulatorClock)
    assert plugged.health_url == "http://127.0.0.1:8765/_sim/health"
    monkeypatch.setenv("AMPERITY_OPS_CLOCK", " System ")
    assert clock_from_env(None) is utc_now


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("simulator", "=simulator: the simulator clock needs the tenant's base_url"),
        ("no_such_module:make", "cannot import no_such_module (no module named 'no_such_module')"),
        ("amperity_ops.core.clock:no_such_factory", "cannot load amperity_ops.core.clock:no_such"),
        ("amperity_ops.core.clock:__all__", "amperity_ops.core.clock:__all__ is not callable"),
        ("amperity_ops.core.clock:clock_mark", "returned str, not a clock"),
        (":make", "expected 'system', 'simulator' or a 'module:factory' path, got ':make'"),
    ],
)
def test_a_clock_that_cannot_be_had_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    """Every way a named clock can fail is a ValueError naming the variable and the cause."""
    monkeypatch.setenv("AMPERITY_OPS_CLOCK", value)
    with pytest.raises(ValueError, match=r"^AMPERITY_OPS_CLOCK") as info:
        clock_from_env(None)
    assert says in str(info.value)

