"""What every HTTP sink shares: the secret protocol, one POST, errors without secrets."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any, Protocol

import httpx

from amperity_ops.core.alerts import AlertMessage

__all__ = ["AlertSink", "Secret", "SinkError", "post_json", "redact"]

_URL = re.compile(r"https?://\S+")


class Secret(Protocol):
    """Anything with ``reveal()`` (``amperity_ops.settings.SecretRef``): resolved at send time."""

    def reveal(self) -> str: ...


class AlertSink(Protocol):
    """A place alerts go. ``send`` raises :class:`SinkError` on anything but a 2xx answer."""

    sink_id: str

    def send(self, message: AlertMessage, http: httpx.Client) -> None: ...


class SinkError(Exception):
    """A sink refused or could not be reached. The message names the sink, never its URL."""


class _HideSinkUrls(logging.Filter):
    """Masks sink URLs in httpx's own ``HTTP Request: POST <url>`` INFO log lines.

    Webhook URLs are secrets (Slack and Teams put the credential in the path), and httpx logs
    every request URL; requests of other clients (the Amperity API) are left as they are.
    """

    def __init__(self) -> None:
        super().__init__()
        self._urls: set[str] = set()
        self._lock = threading.Lock()

    def remember(self, url: str) -> None:
        with self._lock:
            self._urls.add(url)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._urls and isinstance(record.args, tuple):
            record.args = tuple(
                "<sink url>" if str(arg) in self._urls else arg for arg in record.args
            )
        return True


_hide_sink_urls = _HideSinkUrls()
logging.getLogger("httpx").addFilter(_hide_sink_urls)


def redact(text: str, *secrets: str) -> str:
    """Remove secrets and every URL from a text meant for logs or the store."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<secret>")
    return _URL.sub("<url>", text)


def post_json(
    http: httpx.Client,
    sink_id: str,
    url: str,
    body: Any,
    *,
    secrets: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
    accept: tuple[int, ...] = (),
) -> httpx.Response:
    """POST JSON and insist on a 2xx answer.

    Args:
        http: The client (its timeout applies).
        sink_id: Named in errors instead of the URL.
        url: Where to post (a secret for most sinks).
        body: The JSON body.
        secrets: Values to scrub from error texts besides the URL itself.
        headers: Extra request headers (an API key's ``Authorization``).
        accept: Statuses besides 2xx that are not a failure (Opsgenie's 404 on closing an
            alert that is already gone).

    Returns:
        The response.

    Raises:
        SinkError: Transport failure or a non-2xx status; the text holds no URL or secret.
    """
    parsed = httpx.URL(url)
    # The credential of a Slack/Teams hook is in the path, other hooks put it in the query:
    # scrub the whole URL and each of those parts wherever a server echoes them back.
    parts = (parsed.raw_path.decode("ascii", "replace"), parsed.path, parsed.query.decode())
    scrub = (url, *sorted((p for p in parts if len(p) > 1), key=len, reverse=True), *secrets)
    _hide_sink_urls.remember(url)
    try:
        response = http.post(url, json=body, headers=headers)
    except httpx.HTTPError as err:
        detail = redact(str(err), *scrub)
        raise SinkError(f"{sink_id}: {type(err).__name__}: {detail}"[:500]) from None
    if not response.is_success and response.status_code not in accept:
        snippet = redact(response.text[:200].strip(), *scrub)
        raise SinkError(f"{sink_id}: HTTP {response.status_code} {snippet}".strip())
    return response
