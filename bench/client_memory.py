"""Peak memory while iterating 100,000 workflow runs through AmperityClient.

The simulator (100,000 runs of history, limiter off) runs in a *separate process* behind a
real socket, so this process holds only the client. Memory is sampled as the client's
Python heap (tracemalloc peak above the start) and the process RSS (above the start).

    .venv/bin/python bench/client_memory.py [--runs 100000] [--page 100]

Target: flat, under 50 MB above the start.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
import tracemalloc
from multiprocessing.connection import Connection

from amperity_ops.client import AmperityClient
from amperity_ops.simulator import ManualClock, Simulator, TenantSpec

TENANT, TOKEN = "acme", "bench-token"


def serve(runs: int, conn: Connection) -> None:
    """Simulator process: build the history, serve it, report the URL, wait to be told."""
    sim = Simulator([TenantSpec(tenant_id=TENANT, static_tokens=(TOKEN,), seed=7,
                                schedules=False)], clock=ManualClock(), rate_limit_rps=None)
    sim.tenant(TENANT).add_history(runs)
    with sim.serve() as base_url:
        conn.send(base_url)
        conn.recv()


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=100)
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=serve, args=(args.runs, child), daemon=True)
    server.start()
    base_url = parent.recv()

    with AmperityClient(TENANT, base_url=base_url, access_token=TOKEN, rate_limit_rps=0) as c:
        list(c.list_workflow_runs(limit=args.page, max_items=args.page))  # warm up
        rss_start = rss_mb()
        tracemalloc.start()
        heap_start = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        count, active, rss_peak, samples = 0, 0, rss_start, []
        runs = c.list_workflow_runs(limit=args.page)
        for run in runs:
            count += 1
            active += run.state.is_active  # touch each run as a consumer would
            if count % 10_000 == 0:
                rss_peak = max(rss_peak, rss_mb())
                samples.append(round(rss_mb() - rss_start, 1))
        elapsed = time.perf_counter() - started
        heap_peak = tracemalloc.get_traced_memory()[1] - heap_start
        tracemalloc.stop()
        rss_peak = max(rss_peak, rss_mb())
    parent.send("stop")
    server.join(timeout=10)
    print(f"iterated {count} runs in {runs.pages_fetched} pages of {args.page} "
          f"({elapsed:.1f} s, over a real socket)")
    print(f"Python heap peak above start (tracemalloc): {heap_peak / 2**20:.2f} MB")
    print(f"RSS peak above start: {rss_peak - rss_start:.1f} MB "
          f"(every 10,000 runs: {samples} MB) (target: flat, < 50 MB)")


if __name__ == "__main__":
    main()
