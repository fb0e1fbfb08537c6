"""The polling assets' work over many tenants, each answering after 100 ms, within 5 minutes.

What one materialization of ``workflow_runs`` and of ``ingest_jobs`` does (the same service
calls, ``sensor.concurrency`` tenants at a time, each with its own client and request budget),
over simulated tenants that each answer after ``--latency`` seconds behind the simulator's
strict 10-per-second limiter. Each tenant has a few active runs and some history. Printed: the
first poll (a day back) and a steady poll (since the watermark), wall time of each asset,
requests per tenant, the busiest second any tenant saw, and 429s.

    .venv/bin/python bench/poll_tenants.py [--tenants 100 1000] [--latency 0.1]
        [--concurrency 32] [--store-url URL]

Target (issue 10): every tenant's runs and ingest jobs polled within the schedule's interval
(5 minutes), each tenant within its budget.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sensor_common import TOKEN

from amperity_ops.client import AmperityClient
from amperity_ops.services.poll import poll_ingest_jobs, poll_workflow_runs
from amperity_ops.services.tenant_pool import for_each_tenant_at_once
from amperity_ops.settings import OpsConfig, TenantConfig
from amperity_ops.simulator import IN_PROCESS_BASE_URL, Faults, ManualClock, Simulator, TenantSpec
from amperity_ops.testing import simulated_runtime

logging.getLogger("amperity_ops").setLevel(logging.CRITICAL)

INTERVAL_S = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--store-url", default=None)
    args = parser.parse_args()
    for n in args.tenants:
        run(n, args)


def run(n: int, args: argparse.Namespace) -> None:
    clock = ManualClock()
    names = [f"tenant-{i:04d}" for i in range(n)]
    sim = Simulator(
        [TenantSpec(tenant_id=t, static_tokens=(TOKEN,), seed=i, schedules=False)
         for i, t in enumerate(names)],
        clock=clock, rate_limit_rps=10,
    )
    for t in names:
        world = sim.tenant(t)
        world.add_history(40, active=3, days=1)
        sim.set_faults(t, Faults(slow_seconds=args.latency))
    config = OpsConfig.model_validate({
        "sensor": {"concurrency": args.concurrency},
        "tenants": [{"name": t, "tenant_id": t, "access_token": TOKEN} for t in names],
    })
    url = args.store_url or (
        f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-poll-')) / 'store.sqlite'}")
    runtime = simulated_runtime(sim, clock, config=config, store_url=url, token=TOKEN)

    def factory(tenant: TenantConfig) -> AmperityClient:
        return AmperityClient(tenant.tenant_id, base_url=IN_PROCESS_BASE_URL,
                              access_token=TOKEN, transport=sim.transport(), clock=clock.now,
                              rate_limit_rps=10, rate_limit_backend="memory")

    print(f"{n} tenants, {args.latency * 1000:.0f} ms per answer, pool {args.concurrency}, "
          f"store {runtime.store.engine.dialect.name}:")
    for label in ("first poll (a day back)", "steady poll (since the watermark)"):
        for t in names:
            sim.request_log(t).reset()
        now = clock.now()
        walls = {}
        for asset, work in (
            ("workflow_runs", lambda tn, c, now=now: poll_workflow_runs(
                c, runtime.store, tenant=tn.name, now=now)),
            ("ingest_jobs", lambda tn, c, now=now: poll_ingest_jobs(
                c, runtime.store, tenant=tn.name, now=now)),
        ):
            started = time.perf_counter()
            done, errors = for_each_tenant_at_once(runtime.tenants, work, factory,
                                                   concurrency=args.concurrency)
            walls[asset] = time.perf_counter() - started
            if errors:
                print(f"    {asset}: {len(errors)} errors, e.g. {next(iter(errors.items()))}")
            assert len(done) + len(errors) == n
        per_tenant = [sim.request_log(t).total for t in names]
        busiest = max(sim.request_log(t).busiest_window(1.0) for t in names)
        refused = sum(sim.request_log(t).count(status=429) for t in names)
        total = sum(walls.values())
        print(f"  {label}: workflow_runs {walls['workflow_runs']:.1f} s, ingest_jobs "
              f"{walls['ingest_jobs']:.1f} s (both {total:.1f} s of the 300 s interval: "
              f"{'MET' if total < INTERVAL_S else 'NOT MET'}); requests/tenant max "
              f"{max(per_tenant)} mean {statistics.mean(per_tenant):.2f}, busiest second "
              f"{busiest}, 429s {refused}")
        clock.advance(timedelta(minutes=5))
    runtime.close()


if __name__ == "__main__":
    main()
