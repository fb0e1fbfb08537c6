"""PagerDuty Events API v2: trigger (and update) with the run's dedup key, acknowledge it when
someone silences the run, resolve it when the run ends."""

from __future__ import annotations

from typing import Any

import httpx

from amperity_ops.alerts._http import Secret, post_json
from amperity_ops.core.alerts import AlertLevel, AlertMessage

__all__ = ["DEFAULT_EVENTS_URL", "PagerDutySink", "pagerduty_event"]

DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"

_SEVERITY = {AlertLevel.WARNING: "warning", AlertLevel.BREACHED: "critical",
             AlertLevel.INGEST: "error", AlertLevel.FAILED: "error"}


def pagerduty_event(message: AlertMessage, routing_key: str) -> dict[str, Any]:
    """The Events API v2 body: ``resolve`` for resolved messages, else ``trigger``.

    A trigger with an existing incident's dedup key updates that incident, which is how an
    escalation (warning -> breached) avoids paging twice.
    """
    event: dict[str, Any] = {"routing_key": routing_key, "dedup_key": message.dedup_key}
    if message.level is AlertLevel.RESOLVED:
        event["event_action"] = "resolve"
        return event
    if message.kind == "acknowledge":  # someone silenced it: stop re-notifying, keep it open
        event["event_action"] = "acknowledge"
        return event
    event["event_action"] = "trigger"
    event["payload"] = {
        "summary": message.title[:1024],
        "source": f"amperity-ops/{message.tenant}",
        "severity": _SEVERITY[message.level],
        "timestamp": message.raised_at.isoformat(),
        "component": message.workflow_name,
        "group": message.tenant,
        "class": message.level.value,
        "custom_details": dict(message.facts),
    }
    if message.link:
        event["links"] = [{"href": message.link, "text": "Open in Amperity"}]
    return event


class PagerDutySink:
    """Sends Events API v2 events; the routing key is read at send time and never logged."""

    def __init__(self, sink_id: str, routing_key: Secret, *, url: str = DEFAULT_EVENTS_URL) -> None:
        self.sink_id = sink_id
        self._routing_key = routing_key
        self.url = url

    def send(self, message: AlertMessage, http: httpx.Client) -> None:
        """Send the event.

        Raises:
            SinkError: PagerDuty did not accept it (it answers 202 when it does).
        """
        key = self._routing_key.reveal()
        post_json(http, self.sink_id, self.url, pagerduty_event(message, key), secrets=(key,))

    def __repr__(self) -> str:
        return f"PagerDutySink({self.sink_id!r})"
