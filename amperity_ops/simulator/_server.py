"""Serving the simulator over a real socket with uvicorn (in a thread, or in the foreground)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0 = a free port chosen by the OS)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _config(app: ASGIApp, log_level: str) -> uvicorn.Config:
    # lifespan off: the app has no start-up work; access log off: it costs a third of the
    # throughput and the tenant request log already records every request.
    return uvicorn.Config(app, log_level=log_level, lifespan="off", access_log=False,
                          timeout_graceful_shutdown=1)


@contextlib.contextmanager
def serve_in_thread(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
) -> Iterator[str]:
    """Run uvicorn in a daemon thread; yield ``http://HOST:PORT`` once it accepts connections.

    Raises:
        RuntimeError: If the server did not start within 10 seconds.
    """
    sock = bind(host, port)
    server = uvicorn.Server(_config(app, log_level))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="amperity-simulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the simulator's HTTP server did not start")
        time.sleep(0.005)
    bound_host, bound_port = sock.getsockname()[:2]
    try:
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


def serve_forever(app: ASGIApp, sock: socket.socket, *, log_level: str = "warning") -> None:
    """Run uvicorn in the foreground on an already bound socket until interrupted."""
    uvicorn.Server(_config(app, log_level)).run(sockets=[sock])
