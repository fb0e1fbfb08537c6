"""Effective request rate through a strict 10 rps limiter: one process, then three sharing.

The simulator runs its strict limiter (more than 10 requests in any one-second window is a
429) over a real socket. Workers are separate processes, each with its own AmperityClient on
the same tenant and the default *file* budget (in a fresh directory per phase); they start
together and send back-to-back requests until the deadline.

    .venv/bin/python bench/client_rate.py [--seconds 12] [--processes 3] [--hog-seconds 30]

Target: >= 9.5 requests per second together, zero 429s.

A third phase runs the processes beside CPU hogs (busy loops, two per core) for
``--hog-seconds``: on a loaded host the time from taking a slot to the request reaching the
server can exceed the budget's margin, and the strict limiter answers 429. Each 429 widens the
shared window for every process (see ``_ratelimit.py``), so 429s must stop within seconds. It
prints the 429s per second, and the 429s before and after the convergence point (the first
10 s vs the rest).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from multiprocessing.synchronize import Event

from amperity_ops.client import AmperityClient
from amperity_ops.simulator import Simulator, TenantSpec

TENANT, TOKEN = "acme", "bench-token"


def worker(
    base_url: str, budget_dir: str, go: Event, deadline_box: list, out: multiprocessing.Queue
) -> None:
    """One process: its own client on the shared tenant, requests back to back."""
    with AmperityClient(TENANT, base_url=base_url, access_token=TOKEN,
                        rate_limit_backend=f"file://{budget_dir}") as client:
        go.wait()
        deadline = deadline_box[0]
        sent = 0
        while time.monotonic() < deadline:
            list(client.list_segments(limit=1, max_items=1))
            sent += 1
        out.put((sent, time.monotonic()))


def hog(stop_at: float) -> None:
    """Burn a CPU until ``stop_at`` (time.monotonic)."""
    x = 0
    while time.monotonic() < stop_at:
        for _ in range(10_000):
            x += 1


def phase(
    base_url: str, sim: Simulator, processes: int, seconds: float, hogs: int = 0
) -> None:
    ctx = multiprocessing.get_context("spawn")
    manager = ctx.Manager()
    go, out = manager.Event(), manager.Queue()
    box = manager.list([0.0])
    with tempfile.TemporaryDirectory() as budget_dir:
        procs = [ctx.Process(target=worker, args=(base_url, budget_dir, go, box, out))
                 for _ in range(processes)]
        for p in procs:
            p.start()
        time.sleep(3.0)  # let every worker import and connect before the clock starts
        log = sim.request_log(TENANT)
        log.reset()
        started = time.monotonic()
        box[0] = started + seconds
        hog_procs = [ctx.Process(target=hog, args=(started + seconds,)) for _ in range(hogs)]
        for h in hog_procs:
            h.start()
        go.set()
        per_second: list[int] = []
        last = 0
        while time.monotonic() < started + seconds:
            time.sleep(1.0)
            now_429 = log.count(status=429)
            per_second.append(now_429 - last)
            last = now_429
        results = [out.get(timeout=seconds + 60) for _ in procs]
        for h in hog_procs:
            h.join(timeout=10)
        for p in procs:
            p.join(timeout=30)
    ended = max(end for _, end in results)
    ok = log.count("/api/segments", status=200)
    limited = log.count(status=429)
    elapsed = ended - started
    print(f"{processes} process(es), {elapsed:.1f} s: {ok} answered 200 "
          f"({ok / elapsed:.2f} rps together), {limited} answered 429; "
          f"per process: {[n for n, _ in results]}")
    if hogs:
        print(f"  beside {hogs} CPU hogs; 429s per second: {per_second}")
        print(f"  429s in the first 10 s: {sum(per_second[:10])}; "
              f"after: {sum(per_second[10:])}")
    manager.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--hog-seconds", type=float, default=30.0,
                        help="length of the phase beside CPU hogs (0: skip it)")
    args = parser.parse_args()
    sim = Simulator([TenantSpec(tenant_id=TENANT, static_tokens=(TOKEN,), seed=7,
                                schedules=False)], rate_limit_rps=10.0)
    with sim.serve() as base_url:
        print(f"simulator at {base_url}, strict limiter {sim.rate_limit_rps} rps")
        phase(base_url, sim, 1, args.seconds)
        phase(base_url, sim, args.processes, args.seconds)
        if args.hog_seconds:
            phase(base_url, sim, args.processes, args.hog_seconds,
                  hogs=2 * (os.cpu_count() or 1))


if __name__ == "__main__":
    main()
