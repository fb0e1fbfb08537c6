"""Slack incoming webhook: a header, the numbers as fields, a button to the run."""

from __future__ import annotations

from typing import Any

import httpx

from amperity_ops.alerts._http import Secret, post_json
from amperity_ops.core.alerts import AlertLevel, AlertMessage

__all__ = ["SlackSink", "slack_body"]

_EMOJI = {AlertLevel.WARNING: ":warning:", AlertLevel.BREACHED: ":rotating_light:",
          AlertLevel.RESOLVED: ":white_check_mark:", AlertLevel.INGEST: ":inbox_tray:",
          AlertLevel.FAILED: ":x:"}


def slack_body(message: AlertMessage) -> dict[str, Any]:
    """The incoming-webhook JSON: ``text`` (notification fallback) and Block Kit ``blocks``."""
    headline = f"{_EMOJI[message.level]} {message.title}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*"}},
    ]
    if message.facts:
        blocks.append({"type": "section", "fields": [  # Slack allows at most 10 fields
            {"type": "mrkdwn", "text": f"*{label}*\n{value}"} for label, value in message.facts[:10]
        ]})
    if message.link:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": {"type": "plain_text", "text": "Open in Amperity"},
            "url": message.link,
        }]})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"amperity-ops · {message.dedup_key}"}]})
    return {"text": headline, "blocks": blocks}


class SlackSink:
    """Posts to a Slack incoming webhook (one message per level; Slack cannot edit them)."""

    def __init__(self, sink_id: str, webhook_url: Secret) -> None:
        self.sink_id = sink_id
        self._webhook_url = webhook_url

    def send(self, message: AlertMessage, http: httpx.Client) -> None:
        """Post the message.

        Raises:
            SinkError: Slack did not answer 2xx (or could not be reached).
        """
        post_json(http, self.sink_id, self._webhook_url.reveal(), slack_body(message))

    def __repr__(self) -> str:
        return f"SlackSink({self.sink_id!r})"
