"""How long the outbox takes to deliver a burst of alerts (each delivery recorded at once).

Queues ``--alerts`` messages for one sink and times one ``deliver_outbox`` pass, against a
SQLite file and, if reachable, Postgres (``--postgres``, a throwaway schema dropped after).
The sink is a loopback webhook answering at once, so the figure is the outbox's own cost:
the store writes plus one local HTTP round trip per alert. Prints one line per store, the
best of ``--repeat`` passes.

    .venv/bin/python bench/outbox_burst.py --alerts 500
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

from amperity_ops.core import AlertLevel, AlertMessage
from amperity_ops.services.delivery import deliver_outbox
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.settings import OpsConfig
from amperity_ops.store import Store

NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _serving() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _messages(count: int) -> list[AlertMessage]:
    return [AlertMessage(level=AlertLevel.BREACHED, tenant="acme", workflow_id=f"wf-{i}",
                         workflow_name=f"Nightly Load {i}", title=f"BREACHED Nightly Load {i}",
                         text="over its SLA", raised_at=NOW, dedup_key=f"amperity-ops:acme:wf-{i}")
            for i in range(count)]


def _measure(label: str, make_url: Callable[[int], str], hook_url: str, count: int,
             repeat: int) -> None:
    """The best of ``repeat`` passes, each on a fresh store (a shared host is noisy)."""
    best = min(_deliver(make_url(i), hook_url, count) for i in range(repeat))
    print(f"{label}: {count} alerts delivered in {best:.2f} s "
          f"({best / count * 1000:.2f} ms per alert, best of {repeat})")


def _deliver(store_url: str, hook_url: str, count: int) -> float:
    config = OpsConfig.model_validate({
        "alerts": [{"kind": "webhook", "url": hook_url}],
        "tenants": [{"tenant_id": "acme", "access_token": "x"}],
    })
    store = Store.from_url(store_url)
    runtime = OpsRuntime(config=config, store=store)
    store.enqueue_alerts(_messages(count), ["webhook"], now=NOW)
    started = time.perf_counter()
    summary = deliver_outbox(runtime, now=NOW, max_seconds=600)
    elapsed = time.perf_counter() - started
    store.close()
    assert summary.delivered == count, summary
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get(
        "AMPERITY_BENCH_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    with _serving() as base, tempfile.TemporaryDirectory() as tmp:
        _measure("sqlite", lambda i: f"sqlite:///{tmp}/store{i}.sqlite", f"{base}/hook",
                 args.alerts, args.repeat)
        schema = f"bench_outbox_{os.getpid()}"
        try:
            conn = psycopg2.connect(args.postgres.replace("postgresql+psycopg2", "postgresql"))
        except psycopg2.OperationalError as err:
            print(f"postgres: skipped ({str(err).strip().splitlines()[0]})")
            return
        conn.autocommit = True
        schemas = [f"{schema}_{i}" for i in range(args.repeat)]
        for name in schemas:
            conn.cursor().execute(f"CREATE SCHEMA {name}")
        try:
            _measure("postgres", lambda i: f"{args.postgres}?options=-csearch_path%3D{schemas[i]}",
                     f"{base}/hook", args.alerts, args.repeat)
        finally:
            for name in schemas:
                conn.cursor().execute(f"DROP SCHEMA {name} CASCADE")
            conn.close()


if __name__ == "__main__":
    main()
