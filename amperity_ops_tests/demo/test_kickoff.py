"""The demo kickoff places each run so that it breaches just after an SLA sensor tick."""

from __future__ import annotations

import pytest

from amperity_ops.demo.kickoff import AFTER_TICK_S, LEAD_S, SENSOR_INTERVAL_S, real_seconds_ago

BREACH_AFTER = 108.0


@pytest.mark.parametrize("since_tick", [0.0, 1.0, 17.5, 40.0, 59.9])
def test_breach_lands_just_after_a_predicted_tick(since_tick: float) -> None:
    """Whatever the sensor's phase, the breach is AFTER_TICK_S past a tick and LEAD_S away."""
    now, last_tick = 1_000_000.0, 1_000_000.0 - since_tick
    ago = real_seconds_ago(now, last_tick, BREACH_AFTER)
    breach = now - ago + BREACH_AFTER
    assert 0.0 <= ago <= SENSOR_INTERVAL_S
    assert breach >= now + LEAD_S
    phase = (breach - last_tick) % SENSOR_INTERVAL_S
    assert phase == pytest.approx(AFTER_TICK_S, abs=2.0)


def test_without_a_tick_the_run_starts_now() -> None:
    """No tick known (or one from the future): the run is not backdated."""
    assert real_seconds_ago(1000.0, None, BREACH_AFTER) == 0.0
    assert real_seconds_ago(1000.0, 1010.0, BREACH_AFTER) == 0.0
