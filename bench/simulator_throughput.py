"""How many list requests per second the simulator answers, limiter off, on one core.

Two figures:

* in-process: ``Simulator.transport()`` with an httpx client, client and app in one thread
  (what the client's tests and benchmarks use);
* real socket: ``amperity-ops simulator`` in its own process, pinned to one core, driven by
  client threads in this process pinned to the other core(s) (what the demo uses).

The tenant holds ``--history-runs`` finished runs and ``--active-runs`` running ones; the
requests rotate through ``GET /workflow/runs`` (first page), ``?state=running`` and
``?state=failed``, 25 runs a page.

    .venv/bin/python bench/simulator_throughput.py [--seconds 5] [--history-runs 100000]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

from amperity_ops.simulator import IN_PROCESS_BASE_URL, ManualClock, Simulator, TenantSpec

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
QUERIES = ({"limit": 25}, {"state": "running", "limit": 25}, {"state": "failed", "limit": 25})
TARGET = 1000.0


def _headers() -> dict[str, str]:
    return {"authorization": f"Bearer {TOKEN}", "amperity-tenant": "acme",
            "api-version": "2024-04-01"}


def _drive(client: httpx.Client, base: str, seconds: float, counts: list[int]) -> None:
    done = 0
    deadline = time.perf_counter() + seconds
    for params in itertools.cycle(QUERIES):
        response = client.get(f"{base}/workflow/runs", params=params)
        if response.status_code != 200:
            raise RuntimeError(f"unexpected {response.status_code}: {response.text[:200]}")
        done += 1
        if done % 50 == 0 and time.perf_counter() > deadline:
            break
    counts.append(done)


def _drive_raw(port: int, seconds: float, counts: list[int]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    paths = [f"/api/workflow/runs?{urlencode(params)}" for params in QUERIES]
    headers = _headers()
    done = 0
    deadline = time.perf_counter() + seconds
    try:
        for path in itertools.cycle(paths):
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"unexpected {response.status}: {body[:200]!r}")
            done += 1
            if done % 50 == 0 and time.perf_counter() > deadline:
                break
    finally:
        connection.close()
    counts.append(done)


def in_process(history_runs: int, active_runs: int, seconds: float) -> float:
    """Requests per second through the in-process transport, one thread."""
    sim = Simulator([TenantSpec("acme", static_tokens=(TOKEN,), schedules=True, history_days=3,
                                history_runs=history_runs, active_runs=active_runs)],
                    clock=ManualClock(), rate_limit_rps=None)
    counts: list[int] = []
    with httpx.Client(transport=sim.transport(), headers=_headers()) as client:
        _drive(client, IN_PROCESS_BASE_URL, 0.5, [])  # warm up
        started = time.perf_counter()
        _drive(client, IN_PROCESS_BASE_URL, seconds, counts)
        elapsed = time.perf_counter() - started
    return sum(counts) / elapsed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pin(pid: int, cores: set[int]) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(pid, cores)


def over_socket(history_runs: int, active_runs: int, seconds: float, threads: int) -> float:
    """Requests per second over a real socket; the server process pinned to one core."""
    port = _free_port()
    command = [str(Path(sys.executable).with_name("amperity-ops")), "simulator",
               "--port", str(port), "--rate-limit", "0", "--token", TOKEN,
               "--history-runs", str(history_runs), "--active-runs", str(active_runs),
               "--log-level", "error"]
    server = subprocess.Popen(  # own process group: stopped cleanly below
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        cwd=REPO)
    try:
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
        _pin(server.pid, {cores[0]})
        if len(cores) > 1:
            _pin(0, set(cores[1:]))
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_sim/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                output = server.stdout.read().decode() if server.stdout else ""
                raise RuntimeError(f"simulator did not start:\n{output}")
            time.sleep(0.1)
        # The load generator is http.client (keep-alive, one connection per thread): several
        # times lighter than httpx, so the figure measures the server rather than the client.
        counts: list[int] = []
        for _ in range(threads):
            _drive_raw(port, 0.3, [])  # warm up
        workers = [threading.Thread(target=_drive_raw, args=(port, seconds, counts))
                   for _ in range(threads)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        return sum(counts) / elapsed
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)


def main() -> int:
    """Print both figures; exit 1 if either is under 1,000 list requests per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--history-runs", type=int, default=100_000)
    parser.add_argument("--active-runs", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=4, help="client threads (socket)")
    args = parser.parse_args()
    print(f"simulator throughput, limiter off, {args.history_runs:,} finished runs + "
          f"{args.active_runs:,} running; {args.seconds:g} s per measurement")
    if hasattr(os, "getloadavg"):
        print(f"  machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
              "(other work on the machine lowers these figures)")
    local = in_process(args.history_runs, args.active_runs, args.seconds)
    print(f"  in-process transport (1 thread, client + app on one core): {local:,.0f} list req/s")
    remote = over_socket(args.history_runs, args.active_runs, args.seconds, args.threads)
    print(f"  real socket (uvicorn pinned to 1 core, {args.threads} http.client threads):"
          f" {remote:,.0f} list req/s")
    ok = local >= TARGET and remote >= TARGET
    print(f"  target >= {TARGET:,.0f} req/s: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
