"""Effective request rate through a strict 10 rps limiter: one process, then three sharing.

The simulator runs its strict limiter (more than 10 requests in any one-second window is a
429) over a real socket. Workers are separate processes, each with its own AmperityClient on
the same tenant and the default *file* budget (in a fresh directory per phase); they start
together and send back-to-back requests until the deadline.

    .venv/bin/python bench/client_rate.py [--seconds 12] [--processes 3]

Target: >= 9.5 requests per second together, zero 429s.
"""

from __future__ import annotations

import argparse
import multiprocessing
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


def phase(base_url: str, sim: Simulator, processes: int, seconds: float) -> None:
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
        go.set()
        results = [out.get(timeout=seconds + 60) for _ in procs]
        for p in procs:
            p.join(timeout=30)
    ended = max(end for _, end in results)
    ok = log.count("/api/segments", status=200)
    limited = log.count(status=429)
    elapsed = ended - started
    print(f"{processes} process(es), {elapsed:.1f} s: {ok} answered 200 "
          f"({ok / elapsed:.2f} rps together), {limited} answered 429; "
          f"per process: {[n for n, _ in results]}")
    manager.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--processes", type=int, default=3)
    args = parser.parse_args()
    sim = Simulator([TenantSpec(tenant_id=TENANT, static_tokens=(TOKEN,), seed=7,
                                schedules=False)], rate_limit_rps=10.0)
    with sim.serve() as base_url:
        print(f"simulator at {base_url}, strict limiter {sim.rate_limit_rps} rps")
        phase(base_url, sim, 1, args.seconds)
        phase(base_url, sim, args.processes, args.seconds)


if __name__ == "__main__":
    main()
