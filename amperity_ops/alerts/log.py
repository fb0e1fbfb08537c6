"""Python logging as a sink (logger ``amperity_ops.alerts``): the demo's and the fallback's."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import httpx

from amperity_ops.core.alerts import AlertLevel, AlertMessage

__all__ = ["LogSink"]

logger = logging.getLogger("amperity_ops.alerts")

# Every kind at WARNING or above: the level says "this is an alert", not how bad it is. A
# RESOLVED at INFO would be dropped by the default (WARNING) level while the outbox marked it
# delivered, so the on-call would never learn from this channel that the run ended.
_LEVELS = {AlertLevel.WARNING: logging.WARNING, AlertLevel.BREACHED: logging.ERROR,
           AlertLevel.RESOLVED: logging.WARNING, AlertLevel.INGEST: logging.WARNING,
           AlertLevel.FAILED: logging.ERROR}


class LogSink:
    """Logs the message text at ERROR (breached) or WARNING (warning, resolved, ingest).

    With ``file``, each alert is also appended there (time, kind, text, dedup key), so the
    alerts can be read without the process's other log lines.
    """

    def __init__(self, sink_id: str = "log", *, log: logging.Logger | None = None,
                 file: str | Path | None = None) -> None:
        self.sink_id = sink_id
        self._logger = log or logger
        self._file = Path(os.path.expandvars(os.path.expanduser(str(file)))) if file else None

    def send(self, message: AlertMessage, http: httpx.Client) -> None:
        """Log the message (``http`` is unused; the signature is every sink's).

        Raises:
            OSError: The file cannot be written (the outbox retries the alert later).
        """
        self._logger.log(_LEVELS[message.level], "%s [%s]", message.text, message.dedup_key)
        if self._file is not None:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            with self._file.open("a", encoding="utf-8") as out:
                out.write(f"{stamp} {message.level.value.upper()}\n{message.text}\n"
                          f"[{message.dedup_key}]\n\n")

    def __repr__(self) -> str:
        return f"LogSink({self.sink_id!r})"
