"""The alert state machine: one message per run and level, escalate, resolve once."""

from __future__ import annotations

import pytest

from amperity_ops.core import AlertLevel
from amperity_ops.monitoring import AlertTrack, SlaLevel, next_alert

W, B, R = AlertLevel.WARNING, AlertLevel.BREACHED, AlertLevel.RESOLVED
OK_, WARN, BREACH = SlaLevel.OK, SlaLevel.WARNING, SlaLevel.BREACHED


@pytest.mark.parametrize(
    ("observations", "sent"),
    [
        ([OK_, OK_, "end"], []),                      # never late: silent end
        ([OK_, WARN, WARN, WARN], [W]),               # warning once, not every tick
        ([WARN, BREACH, BREACH, "end"], [W, B, R]),   # escalate, then resolve
        ([BREACH, WARN, BREACH], [B]),                # skip warning; never de-escalate
        ([WARN, "end", "end", BREACH], [W, R]),       # resolved is final
        ([OK_, BREACH, "end"], [B, R]),
    ],
)
def test_sequence_of_observations(
    observations: list[SlaLevel | str], sent: list[AlertLevel]
) -> None:
    """Feeding ticks in order sends exactly the expected levels, each at most once."""
    track: AlertTrack | None = None
    messages = []
    for observed in observations:
        ended = observed == "end"
        step = next_alert(track, OK_ if ended else observed, ended=ended)  # type: ignore[arg-type]
        if step.send:
            messages.append(step.send)
        track = step.track
    assert messages == sent


def test_restart_with_saved_track_does_not_repeat() -> None:
    """A track read back from the store (level and last sent) suppresses a repeat."""
    saved = AlertTrack(AlertLevel.BREACHED, AlertLevel.BREACHED, "n")
    assert next_alert(saved, SlaLevel.BREACHED, ended=False).send is None
    assert next_alert(saved, SlaLevel.WARNING, ended=False).track == saved
