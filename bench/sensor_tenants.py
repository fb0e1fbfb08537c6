"""One SLA tick over many tenants, each answering after 100 ms, with their own request budget.

Every simulated tenant answers each request after ``--latency`` seconds (the simulator's
``slow_seconds``: an ``asyncio.sleep``, so answers to other requests are not held up) and is
guarded by the simulator's strict limiter (10 requests in any second, 429 above). Each tenant
has a few running runs (one of them breached, so the first tick alerts and stops) and the
client's own request budget (10 per second, ``--budget`` backend: ``memory`` by default, or
``file`` / ``redis://127.0.0.1:6379/0``, shared across processes as in production).

Printed per tenant count: the first tick and the steady ticks (wall time, store time),
requests per tenant in a steady tick, the busiest second any tenant saw (arrival times in the
simulator's request log) and 429s; with ``--ticks 30``, the process's resident memory after
ticks 1, 10 and 30.

    .venv/bin/python bench/sensor_tenants.py [--tenants 100 1000] [--latency 0.1]
        [--concurrency 32] [--ticks 3] [--store-url URL] [--budget memory] [--socket]

Targets (issue 10): 1,000 tenants in <= 20 s per tick, <= 2 requests per tenant steady,
never more than 10 in a second; store work < 2 s on Postgres, < 5 s on SQLite; memory grows
< 200 MB over 30 ticks and not from tick 10 to 30.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sensor_common import TOKEN

from amperity_ops.client import AmperityClient
from amperity_ops.monitoring.stop_retry import JobState
from amperity_ops.services.sla_guard import SlaTickResult, run_sla_tick
from amperity_ops.settings import OpsConfig, TenantConfig
from amperity_ops.simulator import IN_PROCESS_BASE_URL, Faults, ManualClock, Simulator, TenantSpec
from amperity_ops.testing import simulated_runtime

logging.getLogger("amperity_ops").setLevel(logging.CRITICAL)

ACTIVE_PER_TENANT = 5


def stop_jobs_in_flight(_run_key: str) -> JobState:
    """What the sensor's instance says of each stop job here: still queued (a burst draining).

    The sensor always passes the instance's view (``job_state``), which makes the tick read
    its open stops back; without it the benchmark would skip that store work.
    """
    return JobState.IN_FLIGHT


def rss_mb() -> float:
    """Resident memory of this process, in MB (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def build(
    n: int, clock: ManualClock, latency: float, args: argparse.Namespace
) -> tuple[Simulator, list[str], object]:
    names = [f"tenant-{i:04d}" for i in range(n)]
    sim = Simulator(
        [TenantSpec(tenant_id=t, static_tokens=(TOKEN,), seed=i, schedules=False)
         for i, t in enumerate(names)],
        clock=clock,
        rate_limit_rps=10,
    )
    for t in names:
        world = sim.tenant(t)
        world.add_run(name="Courier Group Late", started_ago=timedelta(hours=3))
        for i in range(ACTIVE_PER_TENANT - 1):
            world.add_run(name=f"Daily Load {i}", started_ago=timedelta(minutes=10 + i))
        sim.set_faults(t, Faults(slow_seconds=latency))
    config = OpsConfig.model_validate({
        "policies": [{"name": "courier", "match": {"name": "Courier Group*"},
                      "warn_after": "90m", "max_runtime": "2h", "action": "stop"}],
        "auto_stop": {"enabled": True, "max_stops_per_hour": 5},
        "alerts": [{"kind": "log"}],
        "sensor": {"concurrency": args.concurrency, "time_budget": "40s"},
        "tenants": [{"name": t, "tenant_id": t, "access_token": TOKEN} for t in names],
    })
    store_url = args.store_url or (
        f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-tenants-')) / 'store.sqlite'}")
    runtime = simulated_runtime(sim, clock, config=config, store_url=store_url, token=TOKEN)
    return sim, names, runtime


def factory_for(clock: ManualClock, sim: Simulator, base_url: str | None, budget: str):  # type: ignore[no-untyped-def]
    transport = None if base_url else sim.transport()

    def factory(tenant: TenantConfig) -> AmperityClient:
        return AmperityClient(tenant.tenant_id, base_url=base_url or IN_PROCESS_BASE_URL,
                              access_token=TOKEN, transport=transport, clock=clock.now,
                              rate_limit_rps=10, rate_limit_backend=budget)

    return factory


def run(n: int, args: argparse.Namespace) -> None:
    clock = ManualClock()
    sim, names, runtime = build(n, clock, args.latency, args)
    with contextlib.ExitStack() as stack:
        base_url = stack.enter_context(sim.serve()) if args.socket else None
        runtime.client_factory = factory_for(clock, sim, base_url, args.budget)  # type: ignore[attr-defined]
        results: list[SlaTickResult] = []
        walls: list[float] = []
        memory: dict[int, float] = {}
        last: SlaTickResult | None = None
        for tick in range(1, args.ticks + 1):
            for t in names:
                sim.request_log(t).reset()
            started = time.perf_counter()
            last = run_sla_tick(runtime, now=clock.now(), budget_s=40,  # type: ignore[arg-type]
                                last_tick_at=last.started_at if last else None,
                                job_state=stop_jobs_in_flight)
            walls.append(time.perf_counter() - started)
            results.append(last)
            per_tenant = [sim.request_log(t).total for t in names]
            busiest = max(sim.request_log(t).busiest_window(1.0) for t in names)
            refused = sum(sim.request_log(t).count(status=429) for t in names)
            if tick in (1, 2) or tick == args.ticks:
                label = "first" if tick == 1 else f"tick {tick}"
                print(f"  {label}: {walls[-1]:.2f} s (store {last.store_s:.2f} s), "
                      f"{len(last.tenants)}/{n} tenants evaluated, {len(last.errors)} errors, "
                      f"requests/tenant max {max(per_tenant)} mean "
                      f"{statistics.mean(per_tenant):.2f}, busiest second {busiest}, "
                      f"429s {refused}, stops {len(last.stop_requests)}, "
                      f"resume {last.resume_tenant}")
            if tick in (1, 10, 30):
                gc.collect()
                memory[tick] = rss_mb()
            clock.advance(timedelta(seconds=60))
    steady = walls[1:]
    if steady:
        store = [r.store_s for r in results[1:]]
        print(f"  steady ({len(steady)} ticks): median {statistics.median(steady):.2f} s, "
              f"max {max(steady):.2f} s; store median {statistics.median(store):.2f} s, "
              f"max {max(store):.2f} s")
    if memory:
        print("  memory (RSS): " + ", ".join(f"tick {k}: {v:.0f} MB" for k, v in memory.items()))
    target = 20.0 * n / 1000 if n < 1000 else 20.0
    print(f"  target <= {target:.0f} s per tick:", "MET" if max(walls) <= target else "NOT MET")
    runtime.close()  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per answer")
    parser.add_argument("--concurrency", type=int, default=32, help="sensor.concurrency")
    parser.add_argument("--ticks", type=int, default=3)
    parser.add_argument("--store-url", default=None, help="an empty store (default: SQLite)")
    parser.add_argument("--budget", default="memory",
                        help="the client budget's backend: memory, file, redis://...")
    parser.add_argument("--socket", action="store_true", help="uvicorn socket, not in-process")
    args = parser.parse_args()
    for n in args.tenants:
        store = "postgres" if args.store_url and "postgres" in args.store_url else "sqlite"
        print(f"{n} tenants, {args.latency * 1000:.0f} ms per answer, pool "
              f"{args.concurrency}, store {store}, budget {args.budget}, "
              f"{'socket' if args.socket else 'in-process'}:")
        run(n, args)


if __name__ == "__main__":
    main()
