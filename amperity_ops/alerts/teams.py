"""Microsoft Teams incoming webhook: an Adaptive Card (Workflows) or a legacy MessageCard."""

from __future__ import annotations

from typing import Any, Literal

import httpx

from amperity_ops.alerts._http import Secret, post_json
from amperity_ops.core.alerts import AlertLevel, AlertMessage

__all__ = ["TeamsSink", "adaptive_card", "message_card"]

_COLOR = {AlertLevel.WARNING: ("Warning", "FFA500"), AlertLevel.BREACHED: ("Attention", "D13438"),
          AlertLevel.RESOLVED: ("Good", "2EB886"), AlertLevel.INGEST: ("Warning", "FFA500"),
          AlertLevel.FAILED: ("Attention", "D13438")}


def adaptive_card(message: AlertMessage) -> dict[str, Any]:
    """The body a Teams Workflows webhook expects: a message with one Adaptive Card."""
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": message.title, "weight": "Bolder", "wrap": True,
             "color": _COLOR[message.level][0]},
            {"type": "FactSet",
             "facts": [{"title": label, "value": value} for label, value in message.facts]},
        ],
    }
    if message.link:
        content["actions"] = [{"type": "Action.OpenUrl", "title": "Open in Amperity",
                               "url": message.link}]
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": content}]}


def message_card(message: AlertMessage) -> dict[str, Any]:
    """The legacy Office 365 connector body (MessageCard)."""
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": message.title[:200],
        "themeColor": _COLOR[message.level][1],
        "title": message.title,
        "sections": [{"facts": [{"name": a, "value": b} for a, b in message.facts]}],
    }
    if message.link:
        card["potentialAction"] = [{"@type": "OpenUri", "name": "Open in Amperity",
                                    "targets": [{"os": "default", "uri": message.link}]}]
    return card


class TeamsSink:
    """Posts a card to a Teams incoming webhook."""

    def __init__(self, sink_id: str, webhook_url: Secret, *,
                 card: Literal["adaptive", "messagecard"] = "adaptive") -> None:
        self.sink_id = sink_id
        self._webhook_url = webhook_url
        self.card = card

    def send(self, message: AlertMessage, http: httpx.Client) -> None:
        """Post the card.

        Raises:
            SinkError: Teams did not answer 2xx.
        """
        body = adaptive_card(message) if self.card == "adaptive" else message_card(message)
        post_json(http, self.sink_id, self._webhook_url.reveal(), body)

    def __repr__(self) -> str:
        return f"TeamsSink({self.sink_id!r})"
