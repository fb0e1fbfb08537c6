"""A synchronous httpx transport that calls the simulator's ASGI app in the calling thread.

Starlette's TestClient starts an event-loop portal per request; this transport keeps one
event loop per calling thread (shared by all transports) and runs the app on it directly,
which is several times faster and lets many threads call the simulator at once (each on its
own loop; the world has its own locks). It also turns the simulator's faults into what httpx
raises for a real server: a dropped connection -> ``httpx.RemoteProtocolError``, an answer
slower than the request's read timeout -> ``httpx.ReadTimeout``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from urllib.parse import unquote

import httpx
from starlette.types import ASGIApp, Message

from amperity_ops.simulator._http import DROPPED_KEY


class SimulatorTransport(httpx.BaseTransport):
    """Serve httpx requests from an ASGI app in-process.

    Args:
        app: The ASGI app (``Simulator.app``).
        client: The (host, port) the app sees as the caller.
    """

    def __init__(self, app: ASGIApp, *, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self._app = app
        self._client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Run the request through the app and return its response."""
        body = request.read()
        url = request.url
        raw_path = url.raw_path.split(b"?", 1)[0]
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": unquote(raw_path.decode("ascii")),
            "raw_path": raw_path,
            "query_string": url.query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "client": self._client,
            "server": (url.host, url.port or (443 if url.scheme == "https" else 80)),
            "extensions": {},
        }
        request_sent = False
        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal request_sent
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        timeout = (request.extensions.get("timeout") or {}).get("read")
        loop = _thread_loop()
        call = self._app(scope, receive, send)
        try:
            if timeout is not None:
                loop.run_until_complete(asyncio.wait_for(call, timeout))
            else:
                loop.run_until_complete(call)
        except TimeoutError:
            raise httpx.ReadTimeout("The simulator did not answer within the read timeout.",
                                    request=request) from None
        if scope.get(DROPPED_KEY):
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.",
                                            request=request)
        return httpx.Response(status, headers=headers, content=b"".join(chunks), request=request)

    def close(self) -> None:
        """Nothing to release: the per-thread event loops are shared by every transport."""


class _LoopHolder:
    """Owns one thread's event loop and closes it when the thread's locals are dropped."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        if not self.loop.is_closed() and not self.loop.is_running():
            self.loop.close()


_LOCAL = threading.local()


def _thread_loop() -> asyncio.AbstractEventLoop:
    """This thread's private event loop for running the app (one per thread, process-wide).

    Shared by all transports so that creating many transports (one per test) leaves no event
    loops behind; the loop is closed when its thread ends.
    """
    holder: _LoopHolder | None = getattr(_LOCAL, "holder", None)
    if holder is None or holder.loop.is_closed():
        holder = _LOCAL.holder = _LoopHolder()
    return holder.loop
