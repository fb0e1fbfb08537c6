"""Opsgenie Alert API v2: create with ``alias`` = the run's dedup key, close it on resolve.

Opsgenie de-duplicates open alerts by alias, so a second create for the same run (the
escalation from warning to breached, or a delivery repeated after a crash) adds to the open
alert's count instead of paging again; the escalation also raises the alert's priority to P1.
Every call is answered ``202 Accepted`` and processed asynchronously by Opsgenie.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from amperity_ops.alerts._http import Secret, post_json
from amperity_ops.core.alerts import AlertLevel, AlertMessage

__all__ = ["DEFAULT_OPSGENIE_URL", "OpsgenieSink", "opsgenie_alert"]

DEFAULT_OPSGENIE_URL = "https://api.opsgenie.com/v2/alerts"

_PRIORITY = {AlertLevel.WARNING: "P3", AlertLevel.BREACHED: "P1", AlertLevel.INGEST: "P2",
             AlertLevel.FAILED: "P2"}
_MESSAGE_MAX = 130  # Opsgenie truncates longer messages; cut it ourselves, visibly
_ALIAS_MAX = 512


def opsgenie_alert(
    message: AlertMessage, *, responders: tuple[str, ...] = (), tags: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The body of ``POST /v2/alerts`` for a warning, breached or ingest message."""
    title = message.title
    if len(title) > _MESSAGE_MAX:
        title = title[: _MESSAGE_MAX - 1] + "…"
    details = dict(message.facts)
    if message.link:
        details["Open in Amperity"] = message.link
    body: dict[str, Any] = {
        "message": title,
        "alias": message.dedup_key[:_ALIAS_MAX],
        "description": message.text[:15000],
        "details": details,
        "entity": message.workflow_name[:512],
        "source": f"amperity-ops/{message.tenant}",
        "priority": _PRIORITY.get(message.level, "P3"),
        "tags": ["amperity-ops", message.tenant, message.level.value, *tags],
    }
    if responders:
        body["responders"] = [{"type": "team", "name": name} for name in responders]
    return body


class OpsgenieSink:
    """Creates, escalates and closes Opsgenie alerts; the API key is read at send time."""

    def __init__(self, sink_id: str, api_key: Secret, *, url: str = DEFAULT_OPSGENIE_URL,
                 responders: tuple[str, ...] = (), tags: tuple[str, ...] = ()) -> None:
        self.sink_id = sink_id
        self._api_key = api_key
        self.url = url.rstrip("/")
        self.responders = tuple(responders)
        self.tags = tuple(tags)

    def send(self, message: AlertMessage, http: httpx.Client) -> None:
        """Create (warning, breached, ingest) or close (resolved) the run's alert.

        Raises:
            SinkError: Opsgenie did not accept the request (a 404 on close or on the priority
                change is fine: there is no open alert to change).
        """
        key = self._api_key.reveal()
        headers = {"Authorization": f"GenieKey {key}"}
        by_alias = f"{self.url}/{quote(message.dedup_key[:_ALIAS_MAX], safe='')}"
        if message.level is AlertLevel.RESOLVED:
            post_json(http, self.sink_id, f"{by_alias}/close?identifierType=alias",
                      {"source": f"amperity-ops/{message.tenant}", "note": message.text[:25000]},
                      secrets=(key,), headers=headers, accept=(404,))
            return
        post_json(http, self.sink_id, self.url,
                  opsgenie_alert(message, responders=self.responders, tags=self.tags),
                  secrets=(key,), headers=headers)
        if message.level is AlertLevel.BREACHED:
            # An alert opened at warning keeps its P3 through the create (de-duplicated by
            # alias): raise it. A 404 means the create above opened it, already at P1.
            post_json(http, self.sink_id, f"{by_alias}/priority?identifierType=alias",
                      {"priority": "P1"}, secrets=(key,), headers=headers, accept=(404,))

    def __repr__(self) -> str:
        return f"OpsgenieSink({self.sink_id!r})"
