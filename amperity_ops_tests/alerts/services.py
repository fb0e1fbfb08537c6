"""Local stand-ins for Slack's Web API, Opsgenie, PagerDuty and plain webhooks, on a real socket.

One ``ThreadingHTTPServer`` on a free loopback port records every request (path, headers,
JSON body) and answers like the service it stands for:

* ``/slack/api/chat.postMessage`` -> ``{"ok": true, "channel": "C0ONCALL", "ts": "<n>.000100"}``
  (``ts`` counts up); ``/slack/api/chat.update`` -> ok for a known ts, else
  ``message_not_found``; a token other than ``slack_token`` -> ``invalid_auth``.
* ``/opsgenie/v2/alerts...`` -> 202, but 401 for an API key other than ``opsgenie_key``, and
  404 for a close/priority of an alias never created.
* anything else -> 202 (PagerDuty, Teams, webhooks).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from amperity_ops_tests.receiver import serving


@dataclass
class Services:
    """What the fake services received, and how they behave."""

    slack_token: str = "xoxb-test-token"
    opsgenie_key: str = "genie-test-key"
    down: bool = False
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    slack_messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    """ts -> the message's current body."""
    opsgenie_open: set[str] = field(default_factory=set)
    base_url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self, prefix: str = "") -> list[str]:
        """The paths requested, in order (optionally only those under ``prefix``)."""
        return [path for path, _, _ in self.requests if path.startswith(prefix)]

    def bodies(self, prefix: str) -> list[Any]:
        """The JSON bodies posted to paths starting with ``prefix``."""
        return [body for path, _, body in self.requests if path.startswith(prefix)]

    def answer(self, method: str, path: str, headers: dict[str, str], body: Any
               ) -> tuple[int, Any]:
        with self._lock:
            self.requests.append((path, headers, body))
            if self.down:
                return 500, {"error": "down for maintenance"}
            if path.startswith("/slack/api/"):
                return self._slack(path.rsplit("/", 1)[-1], headers, body)
            if path.startswith("/opsgenie/v2/alerts"):
                return self._opsgenie(path.removeprefix("/opsgenie/v2/alerts"), headers, body)
            return 202, {"status": "success"}

    def _slack(self, api: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        if headers.get("authorization") != f"Bearer {self.slack_token}":
            return 200, {"ok": False, "error": "invalid_auth"}
        if api == "chat.postMessage":
            if body.get("thread_ts"):
                return 200, {"ok": True, "channel": "C0ONCALL", "ts": "9.000001"}
            ts = f"{len(self.slack_messages) + 1}.000100"
            self.slack_messages[ts] = body
            return 200, {"ok": True, "channel": "C0ONCALL", "ts": ts}
        if api == "chat.update":
            if body.get("ts") not in self.slack_messages or body.get("channel") != "C0ONCALL":
                return 200, {"ok": False, "error": "message_not_found"}
            self.slack_messages[body["ts"]] = body
            return 200, {"ok": True, "channel": "C0ONCALL", "ts": body["ts"]}
        return 200, {"ok": False, "error": "unknown_method"}

    def _opsgenie(self, rest: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        if headers.get("authorization") != f"GenieKey {self.opsgenie_key}":
            return 401, {"message": "Could not authenticate", "took": 0.0}
        if not rest:
            self.opsgenie_open.add(body["alias"])
            return 202, {"result": "Request will be processed", "requestId": "r1"}
        alias, action = unquote(rest.lstrip("/").split("?")[0].rsplit("/", 1)[0]), \
            rest.rsplit("/", 1)[-1]
        if alias not in self.opsgenie_open:
            return 404, {"message": "Alert does not exist", "took": 0.0}
        if action == "close":
            self.opsgenie_open.discard(alias)
        return 202, {"result": "Request will be processed", "requestId": "r2"}


@contextmanager
def running_services(services: Services | None = None) -> Iterator[Services]:
    """Serve a :class:`Services` on 127.0.0.1; ``services.base_url`` is set while it runs."""
    state = services or Services()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            path = urlsplit(self.path).path
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer = state.answer("POST", path, headers, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as base_url:
        state.base_url = base_url
        yield state
