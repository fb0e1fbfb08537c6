"""Loopback alert receivers for the crash tests: real HTTP servers that record what they saw.

Each receiver records every request it read, whatever it answered: a sink that answers 500
after acting on a request (or is killed mid-answer) has seen it, and that is what an on-call
would see twice.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar


class RecordingHook(BaseHTTPRequestHandler):
    """Records every JSON body; answers 500 on every ``fail_every``-th request (0: never)
    after the first ``ok_first`` requests (which succeed).

    Configure a subclass per test (``type("Hook", (RecordingHook,), {...})``): the class holds
    the shared record, as ``http.server`` builds one handler per request.
    """

    seen: ClassVar[list[dict[str, Any]]]
    fail_every: ClassVar[int] = 0
    ok_first: ClassVar[int] = 0
    delay_s: ClassVar[float] = 0.0
    requests: ClassVar[int] = 0
    lock: ClassVar[threading.Lock]

    @classmethod
    def fresh(cls, *, fail_every: int = 0, ok_first: int = 0,
              delay_s: float = 0.0) -> type[RecordingHook]:
        """A new handler class with its own record."""
        return type("Hook", (cls,), {"seen": [], "fail_every": fail_every, "ok_first": ok_first,
                                     "delay_s": delay_s, "requests": 0,
                                     "lock": threading.Lock()})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        cls = type(self)
        with cls.lock:
            cls.requests += 1
            fail = (cls.fail_every > 0 and cls.requests > cls.ok_first
                    and cls.requests % cls.fail_every == 0)
            cls.seen.append(body)
        if cls.delay_s:
            time.sleep(cls.delay_s)  # a slow receiver: the sender waits with the request open
        try:
            self.send_response(500 if fail else 202)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "error"}' if fail else b'{"status": "success"}')
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender was killed while waiting: what this receiver is here to see

    def log_message(self, *args: object) -> None:
        pass


def copies(bodies: list[dict[str, Any]], *fields: str) -> Counter[tuple[Any, ...]]:
    """How many times each combination of ``fields`` was seen (``payload.severity`` nests)."""

    def value(body: dict[str, Any], field: str) -> Any:
        for part in field.split("."):
            body = body.get(part, {}) if isinstance(body, dict) else {}
        return body or None

    return Counter(tuple(value(b, f) for f in fields) for b in bodies)
