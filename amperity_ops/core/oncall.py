"""On-call nouns shared by the decisions, the store and the services: silences, outbox entries.

A :class:`Silence` keeps a run's (or a workflow's) alerts from being sent for a while; an
:class:`OutboxEntry` is one message for one sink as routing, silences and quiet hours decided
(:func:`amperity_ops.monitoring.dispatch.plan_outbox`), ready for the store's outbox.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime

from amperity_ops.core.alerts import AlertMessage

__all__ = ["OutboxEntry", "Silence"]


@dataclass(frozen=True)
class Silence:
    """Alerts about one run, or the runs of workflows matching a glob, are not sent until ``until``.

    Exactly one of ``run_id`` and ``workflow`` is set. ``tenant`` None covers every tenant.
    """

    id: int
    run_id: str | None
    workflow: str | None
    """A glob on the workflow's name (``"Courier Group*"``)."""
    tenant: str | None
    reason: str
    requested_by: str
    created_at: datetime
    until: datetime
    hold_stops: bool = False
    """Also: request no stop for the covered runs while the silence holds."""
    lifted_at: datetime | None = None
    lifted_by: str | None = None

    def active(self, now: datetime) -> bool:
        """True from its creation until it expires or is lifted."""
        return self.lifted_at is None and self.created_at <= now < self.until

    def covers(self, tenant: str, workflow_id: str, workflow_name: str) -> bool:
        """True if alerts about this run fall under the silence (active or not)."""
        if self.tenant is not None and self.tenant != tenant:
            return False
        if self.run_id is not None:
            return self.run_id == workflow_id
        return self.workflow is not None and fnmatch.fnmatchcase(workflow_name, self.workflow)

    @property
    def subject(self) -> str:
        """``run wf-…`` or ``workflow "Courier*"``, with the tenant when one is given."""
        what = f"run {self.run_id}" if self.run_id else f"workflow {self.workflow!r}"
        return f"{what} ({self.tenant})" if self.tenant else what

    def describe(self, now: datetime, time_mark: str = "") -> str:
        """``silenced by cli:ana until 2025-03-29 04:00 UTC: handling it (stops held)``.

        ``time_mark`` follows each time (`` (sim)`` on the demo's simulator clock).
        """
        if self.lifted_at is not None:
            by = self.lifted_by or "unknown"
            state = f"lifted by {by} at {self.lifted_at:%Y-%m-%d %H:%M} UTC{time_mark}"
        elif now >= self.until:
            state = f"expired at {self.until:%Y-%m-%d %H:%M} UTC{time_mark}"
        else:
            state = f"until {self.until:%Y-%m-%d %H:%M} UTC{time_mark}"
        holds = " (stops held)" if self.hold_stops else ""
        return f"silenced by {self.requested_by} {state}: {self.reason}{holds}"


@dataclass(frozen=True)
class OutboxEntry:
    """One message for one sink: when it is due and whether it is sent at all."""

    message: AlertMessage
    sink: str
    due_at: datetime
    """When it may first be sent (the end of quiet hours, or now)."""
    status: str = "pending"
    """``pending`` (to send) or ``silenced`` (recorded, never sent)."""
    level_key: str | None = None
    """The outbox's once-only level for this entry; None: the message's level. Messages that
    are not alerts (an acknowledgement, a digest) get their own, so they never collide with
    the alert they are about."""
    note: str | None = None
    """Why it waits or is silenced, for the log and the tick report."""
