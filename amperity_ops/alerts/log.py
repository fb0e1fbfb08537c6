"""Python logging as a sink (logger ``amperity_ops.alerts``): the demo's and the fallback's."""

from __future__ import annotations

import logging

import httpx

from amperity_ops.alerts.message import AlertLevel, AlertMessage

__all__ = ["LogSink"]

logger = logging.getLogger("amperity_ops.alerts")

_LEVELS = {AlertLevel.WARNING: logging.WARNING, AlertLevel.BREACHED: logging.ERROR,
           AlertLevel.RESOLVED: logging.INFO, AlertLevel.INGEST: logging.WARNING}


class LogSink:
    """Logs the message text at WARNING (warning, ingest), ERROR (breached) or INFO (resolved)."""

    def __init__(self, sink_id: str = "log", *, log: logging.Logger | None = None) -> None:
        self.sink_id = sink_id
        self._logger = log or logger

    def send(self, message: AlertMessage, http: httpx.Client) -> None:
        """Log the message (``http`` is unused; the signature is every sink's)."""
        self._logger.log(_LEVELS[message.level], "%s [%s]", message.text, message.dedup_key)

    def __repr__(self) -> str:
        return f"LogSink({self.sink_id!r})"
