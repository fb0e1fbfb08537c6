"""Alert levels, the alert message (everything a sink needs) and a run's alert track.

Decisions (which level, which numbers) are made in :mod:`amperity_ops.monitoring`; sinks only
lay the message out for their medium. A message is stored in the outbox as JSON
(:meth:`AlertMessage.to_payload`), so it must never carry a secret: it holds no URL but the
link to the run in the Amperity app.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["AlertLevel", "AlertMessage", "AlertTrack", "dedup_key"]


class AlertLevel(StrEnum):
    """What a message says: warning and breached escalate, resolved closes, ingest and failed
    are alone."""

    WARNING = "warning"
    BREACHED = "breached"
    RESOLVED = "resolved"
    INGEST = "ingest"
    FAILED = "failed"
    """A run that ended failed without having been late (``monitoring.failures``); alone,
    like ingest: nothing resolves it."""


def dedup_key(tenant: str, subject_id: str) -> str:
    """The key shared by every message about one run (or ingest job) of one tenant.

    PagerDuty uses it to update the same incident and to resolve it; the outbox uses it with
    the level to send each level exactly once.

    Args:
        tenant: The tenant's name.
        subject_id: A workflow run id (``wf-…``) or ``ingest:<job id>``.
    """
    return f"amperity-ops:{tenant}:{subject_id}"


@dataclass(frozen=True)
class AlertMessage:
    """One alert about one run (or ingest job) at one level."""

    tenant: str
    workflow_id: str
    """The workflow run id (``wf-…``); for ingest alerts the ingest job id (``isj-…``)."""
    workflow_name: str
    level: AlertLevel
    title: str
    """One line, e.g. ``BREACHED: Courier Group Nightly ran 2h 05m (max 2h 00m)``."""
    text: str
    """A few lines for people, with the numbers and the link."""
    dedup_key: str
    raised_at: datetime
    state: str | None = None
    """The run's state as Amperity sent it (raw text)."""
    runtime_s: float | None = None
    warn_after_s: float | None = None
    max_runtime_s: float | None = None
    over_by_s: float | None = None
    """How far past the threshold that set the level."""
    sla_source: str | None = None
    """``policy:<name>``, ``amperity`` (warn_after_ms) or ``baseline``."""
    link: str | None = None
    """The run in the Amperity app, when the tenant's ``app_url`` is configured."""
    facts: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    """Label/value pairs already formatted for people (Runtime, SLA, State ...)."""
    kind: str = "sla"
    """What the message is about: ``sla`` (a run's runtime), ``ingest`` (an ingest job), and
    two that are not alerts: ``acknowledge`` (someone silenced the alerts under this dedup key:
    PagerDuty acknowledges the incident, chat sinks post who and why) and ``digest`` (the daily
    digest, a report for people)."""
    workflow_type: str | None = None
    """The run's workflow type (``courier.group/run``), for routing; None for ingest."""
    attribution: str | None = None
    """Amperity's attribution of a failed run's error (``customer``/``platform``), if any."""

    def to_payload(self) -> dict[str, Any]:
        """A JSON-ready dict (what the outbox stores and the generic webhook posts)."""
        data = asdict(self)
        data["level"] = self.level.value
        data["raised_at"] = self.raised_at.isoformat()
        data["facts"] = [list(pair) for pair in self.facts]
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> AlertMessage:
        """Rebuild a message from :meth:`to_payload` output."""
        values = dict(data)
        values["level"] = AlertLevel(values["level"])
        values["raised_at"] = datetime.fromisoformat(values["raised_at"])
        values["facts"] = tuple((str(a), str(b)) for a, b in values.get("facts", ()))
        return cls(**values)


@dataclass(frozen=True)
class AlertTrack:
    """What is known about one run's alerts (kept in the store per tenant and run id)."""

    level: AlertLevel
    """The highest level the run has reached: warning, breached, or resolved (final)."""
    last_sent: AlertLevel | None
    """The last level queued for delivery (the outbox delivers it at least once)."""
    workflow_name: str = ""
