"""Python logging as a sink (logger ``amperity_ops.alerts``): the demo's and the fallback's."""

from __future__ import annotations

import logging

import httpx

from amperity_ops.alerts.message import AlertLevel, AlertMessage

__all__ = ["LogSink"]

logger = logging.getLogger("amperity_ops.alerts")

# Every kind at WARNING or above: the level says "this is an alert", not how bad it is. A
# RESOLVED at INFO would be dropped by the default (WARNING) level while the outbox marked it
# delivered, so the on-call would never learn from this channel that the run ended.
_LEVELS = {AlertLevel.WARNING: logging.WARNING, AlertLevel.BREACHED: logging.ERROR,
           AlertLevel.RESOLVED: logging.WARNING, AlertLevel.INGEST: logging.WARNING}


class LogSink:
    """Logs the message text at ERROR (breached) or WARNING (warning, resolved, ingest)."""

    def __init__(self, sink_id: str = "log", *, log: logging.Logger | None = None) -> None:
        self.sink_id = sink_id
        self._logger = log or logger

    def send(self, message: AlertMessage, http: httpx.Client) -> None:
        """Log the message (``http`` is unused; the signature is every sink's)."""
        self._logger.log(_LEVELS[message.level], "%s [%s]", message.text, message.dedup_key)

    def __repr__(self) -> str:
        return f"LogSink({self.sink_id!r})"
