"""A real HTTP receiver on a free loopback port, for tests of outgoing alerts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1 (free port) in a thread; yields ``http://127.0.0.1:PORT``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class PathRecorder(BaseHTTPRequestHandler):
    """Answers every JSON POST with 202 and records ``(path, body)``; subclass per test."""

    received: list[tuple[str, dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).received.append((self.path, json.loads(body)))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def recording() -> Iterator[tuple[str, type[PathRecorder]]]:
    """One loopback server recording every POST by path: ``(base URL, its recorder class)``."""
    handler = type("Recorder", (PathRecorder,), {"received": []})
    with serving(handler) as base:
        yield base, handler
