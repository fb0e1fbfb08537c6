"""The per-run alert state machine: ok -> warning -> breached -> resolved.

One message per run and level: a level is sent once, an escalation (warning -> breached) sends
the new level under the same dedup key (PagerDuty updates the incident instead of opening a
second one), a run that goes straight to breached skips the warning, and a run that was alerted
on gets exactly one ``resolved`` when it ends or disappears. ``resolved`` is final for the run.
A run that was never alerted on ends silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from amperity_ops.core.alerts import AlertLevel, AlertTrack
from amperity_ops.monitoring.sla import SlaLevel

__all__ = ["AlertStep", "AlertTrack", "next_alert"]

_RANK = {None: 0, AlertLevel.WARNING: 1, AlertLevel.BREACHED: 2, AlertLevel.RESOLVED: 3}


@dataclass(frozen=True)
class AlertStep:
    """The outcome of one observation: the new track and the level to send, if any."""

    track: AlertTrack | None
    send: AlertLevel | None


def _as_alert_level(level: SlaLevel) -> AlertLevel | None:
    return {SlaLevel.WARNING: AlertLevel.WARNING, SlaLevel.BREACHED: AlertLevel.BREACHED}.get(level)


def next_alert(
    track: AlertTrack | None, observed: SlaLevel, *, ended: bool, workflow_name: str = ""
) -> AlertStep:
    """Advance one run's alert state by one observation.

    Args:
        track: The run's current track (None if it was never alerted on).
        observed: The SLA level measured now (ignored when ``ended``).
        ended: True when the run is terminal or no longer listed as active. Callers must not
            pass True for an unrecognised state: an unknown state is not an end.
        workflow_name: Kept on the track for people reading the store.

    Returns:
        The new track (None: nothing to remember) and the level to send (None: nothing).
    """
    if track is not None and track.level is AlertLevel.RESOLVED:
        return AlertStep(track, None)
    if ended:
        if track is None or track.last_sent is None:
            return AlertStep(None, None)
        resolved = AlertTrack(AlertLevel.RESOLVED, AlertLevel.RESOLVED, track.workflow_name)
        return AlertStep(resolved, AlertLevel.RESOLVED)
    seen = _as_alert_level(observed)
    current = track.level if track is not None else None
    # Levels only escalate while a run is active (a policy edit must not un-page a run).
    level = seen if _RANK[seen] > _RANK[current] else current
    if level is None:
        return AlertStep(None, None)
    name = workflow_name or (track.workflow_name if track else "")
    last_sent = track.last_sent if track is not None else None
    if _RANK[level] > _RANK[last_sent]:
        return AlertStep(AlertTrack(level, level, name), level)
    return AlertStep(AlertTrack(level, last_sent, name), None)
