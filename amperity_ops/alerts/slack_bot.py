"""Slack with a bot token: one message per run, edited in place on escalation and resolve.

The first alert about a run is posted with ``chat.postMessage``; its ``ts`` (and the channel
id Slack answers with) is written to a :class:`SlackMessageBook` (the history store) before
the outbox marks the alert delivered, so every later alert about the run, after a restart
too, edits that message with ``chat.update`` instead of posting a second one. An escalation
to BREACHED also replies in the message's thread, because an edit notifies nobody.

Delivery stays at-least-once and never-twice: a retried escalation repeats an idempotent
edit; only a crash between Slack's answer and the book's write can post the run's message
twice.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, Protocol

import httpx

from amperity_ops.alerts._http import Secret, SinkError, post_json
from amperity_ops.alerts.slack import slack_body
from amperity_ops.core.alerts import AlertLevel, AlertMessage

__all__ = ["DEFAULT_SLACK_API_URL", "MemoryMessageBook", "SlackBotSink", "SlackMessageBook"]

DEFAULT_SLACK_API_URL = "https://slack.com/api"
_MESSAGE_GONE = {"message_not_found", "cant_update_message", "edit_window_closed"}


class SlackMessageBook(Protocol):
    """Where the ``ts`` of each run's Slack message is remembered (``Store`` implements it)."""

    def slack_message(self, sink: str, dedup_key: str, channel: str) -> tuple[str, str] | None:
        """``(channel_id, ts)`` of the message posted for this run, or None."""
        ...

    def remember_slack_message(self, sink: str, dedup_key: str, channel: str, *,
                               channel_id: str, ts: str, at: datetime) -> None:
        """Record (or replace) the message posted for this run."""
        ...


class MemoryMessageBook:
    """A :class:`SlackMessageBook` in memory: for one-off sends (``doctor``), never the sensor."""

    def __init__(self) -> None:
        self._messages: dict[tuple[str, str, str], tuple[str, str]] = {}
        self._lock = threading.Lock()

    def slack_message(self, sink: str, dedup_key: str, channel: str) -> tuple[str, str] | None:
        with self._lock:
            return self._messages.get((sink, dedup_key, channel))

    def remember_slack_message(self, sink: str, dedup_key: str, channel: str, *,
                               channel_id: str, ts: str, at: datetime) -> None:
        with self._lock:
            self._messages[(sink, dedup_key, channel)] = (channel_id, ts)


class SlackBotSink:
    """Posts a run's message once with a bot token, then edits it; reads the token at send time."""

    def __init__(self, sink_id: str, bot_token: Secret, channel: str, *,
                 book: SlackMessageBook | None = None,
                 api_url: str = DEFAULT_SLACK_API_URL) -> None:
        self.sink_id = sink_id
        self._token = bot_token
        self.channel = channel
        self.book: SlackMessageBook = book if book is not None else MemoryMessageBook()
        self.api_url = api_url.rstrip("/")

    def send(self, message: AlertMessage, http: httpx.Client) -> None:
        """Post the run's message, or edit the one already posted.

        Raises:
            SinkError: Slack refused (``ok: false``: the error code is named) or was unreachable.
        """
        token = self._token.reveal()
        body = slack_body(message)
        known = self.book.slack_message(self.sink_id, message.dedup_key, self.channel)
        if known is not None:
            channel_id, ts = known
            answer = self._call(http, token, "chat.update",
                                {"channel": channel_id, "ts": ts, **body}, tolerate=_MESSAGE_GONE)
            if answer.get("ok"):
                if message.level is AlertLevel.BREACHED:
                    self._call(http, token, "chat.postMessage", {
                        "channel": channel_id, "thread_ts": ts, "text": body["text"]})
                return
            # Someone deleted the message (or it is too old to edit): post a new one.
        answer = self._call(http, token, "chat.postMessage", {"channel": self.channel, **body})
        channel_id, ts = str(answer.get("channel") or ""), str(answer.get("ts") or "")
        if not channel_id or not ts:
            raise SinkError(f"{self.sink_id}: chat.postMessage answered without channel and ts")
        self.book.remember_slack_message(self.sink_id, message.dedup_key, self.channel,
                                         channel_id=channel_id, ts=ts, at=message.raised_at)

    def _call(self, http: httpx.Client, token: str, method: str, body: dict[str, Any], *,
              tolerate: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
        """Call a Web API method; Slack answers HTTP 200 with ``ok: false`` on most errors."""
        response = post_json(http, self.sink_id, f"{self.api_url}/{method}", body,
                             secrets=(token,),
                             headers={"Authorization": f"Bearer {token}"})
        try:
            answer = response.json()
        except ValueError:
            raise SinkError(f"{self.sink_id}: {method} answered with no JSON") from None
        if not isinstance(answer, dict):
            raise SinkError(f"{self.sink_id}: {method} answered with no JSON object")
        if not answer.get("ok") and answer.get("error") not in tolerate:
            error = str(answer.get("error") or "unknown error")[:100]
            raise SinkError(f"{self.sink_id}: {method} refused: {error}{_hint(error)}")
        return answer

    def __repr__(self) -> str:
        return f"SlackBotSink({self.sink_id!r}, channel={self.channel!r})"


def _hint(error: str) -> str:
    hints = {
        "not_in_channel": " (invite the bot to the channel: /invite @your-bot)",
        "channel_not_found": " (check the channel name, and invite the bot if it is private)",
        "invalid_auth": " (the bot token is wrong or revoked)",
        "not_authed": " (no bot token was sent)",
        "missing_scope": " (the bot needs the chat:write scope)",
        "ratelimited": " (Slack rate limit; retried later)",
    }
    return hints.get(error, "")
