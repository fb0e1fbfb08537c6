"""A generic webhook: the message as JSON (``AlertMessage.to_payload()`` plus a source)."""

from __future__ import annotations

import httpx

from amperity_ops.alerts._http import Secret, post_json
from amperity_ops.core.alerts import AlertMessage

__all__ = ["WebhookSink"]


class WebhookSink:
    """POSTs ``{"source": "amperity-ops", **message.to_payload()}`` to a URL."""

    def __init__(self, sink_id: str, url: Secret) -> None:
        self.sink_id = sink_id
        self._url = url

    def send(self, message: AlertMessage, http: httpx.Client) -> None:
        """Post the message.

        Raises:
            SinkError: The receiver did not answer 2xx.
        """
        post_json(http, self.sink_id, self._url.reveal(),
                  {"source": "amperity-ops", **message.to_payload()})

    def __repr__(self) -> str:
        return f"WebhookSink({self.sink_id!r})"
