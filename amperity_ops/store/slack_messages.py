"""The Slack message posted for each run, per Slack bot sink and channel (its ``ts``).

Implements ``amperity_ops.alerts.SlackMessageBook`` so a restarted process edits a run's
message instead of posting a second one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from amperity_ops.store._sql import upsert
from amperity_ops.store.schema import slack_messages

__all__ = ["SlackMessagesMixin"]


class SlackMessagesMixin:
    """``slack_message`` / ``remember_slack_message`` on the store."""

    _engine: Engine

    def slack_message(self, sink: str, dedup_key: str, channel: str) -> tuple[str, str] | None:
        """``(channel_id, ts)`` of the message the sink posted for this run, or None."""
        c = slack_messages.c
        stmt = select(c.channel_id, c.ts).where(
            c.sink == sink, c.dedup_key == dedup_key, c.channel == channel)
        with self._engine.connect() as conn:
            row = conn.execute(stmt).first()
        return (row.channel_id, row.ts) if row is not None else None

    def remember_slack_message(self, sink: str, dedup_key: str, channel: str, *,
                               channel_id: str, ts: str, at: datetime) -> None:
        """Record the message posted for this run (a re-post after a deletion replaces it)."""
        row = {"sink": sink, "dedup_key": dedup_key, "channel": channel,
               "channel_id": channel_id, "ts": ts, "posted_at": at}
        with self._engine.begin() as conn:
            upsert(conn, slack_messages, [row], ["sink", "dedup_key", "channel"])
