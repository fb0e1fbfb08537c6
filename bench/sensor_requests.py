"""API requests per SLA sensor tick in steady state, with 10,000 runs of history per tenant.

Each tenant gets 10,000 finished runs over 90 days plus active ones; the SLA tick (the code the
sensor runs) ticks every 60 s of simulated time. After a first tick, steady-state ticks are
counted from the simulator's request log, per tenant. For comparison, a naive re-read of the
history (every page of ``GET /workflow/runs``) is counted too.

    .venv/bin/python bench/sensor_requests.py [--tenants 3] [--history 10000] [--active 25]
        [--ticks 10] [--living]

``--living`` turns the tenants' workflow schedules on, so runs start, change state and end
between ticks (a day of a real tenant), instead of a fixed set of active runs.
Target: at most 2 requests per tenant per tick in steady state.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta

from sensor_common import make_runtime, make_sim, requests_by_tenant, reset_logs

from amperity_ops.client import AmperityClient
from amperity_ops.services.asset_events import TenantAssets, run_asset_event_tick
from amperity_ops.services.sla_guard import run_sla_tick
from amperity_ops.simulator import IN_PROCESS_BASE_URL, ManualClock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=3)
    parser.add_argument("--history", type=int, default=10_000)
    parser.add_argument("--active", type=int, default=25)
    parser.add_argument("--ticks", type=int, default=10)
    parser.add_argument("--living", action="store_true", help="schedules on: a living tenant")
    args = parser.parse_args()

    tenants = ["acme", *(f"acme-sb-{i}" for i in range(1, args.tenants))]
    clock = ManualClock()
    sim = make_sim(tenants, clock, schedules=args.living)
    for t in tenants:
        sim.tenant(t).add_history(args.history, active=args.active, days=90)
    runtime = make_runtime(sim, clock, tenants)

    first = run_sla_tick(runtime, now=clock.now(), budget_s=30)
    last = first
    per_tick: list[dict[str, int]] = []
    durations: list[float] = []
    # The asset event sensor's tick reads the store the SLA tick fills: it should add nothing.
    assets = {t: TenantAssets(t, frozenset(d.name for d in sim.tenant(t).definitions),
                              frozenset()) for t in tenants}
    event_requests: list[int] = []
    event_durations: list[float] = []
    events = 0
    for _ in range(args.ticks):
        clock.advance(timedelta(seconds=60))
        reset_logs(sim, tenants)
        started = time.perf_counter()
        last = run_sla_tick(runtime, now=clock.now(), budget_s=30, last_tick_at=last.started_at)
        durations.append(time.perf_counter() - started)
        per_tick.append(requests_by_tenant(sim, tenants))
        reset_logs(sim, tenants)
        started = time.perf_counter()
        tick = run_asset_event_tick(runtime, assets, now=clock.now())
        event_durations.append(time.perf_counter() - started)
        event_requests.append(sum(requests_by_tenant(sim, tenants).values()))
        events += sum(plan.count for plan in tick.plans.values())

    reset_logs(sim, tenants)
    with AmperityClient(
        tenants[0],
        base_url=IN_PROCESS_BASE_URL,
        access_token="bench-token",
        transport=sim.transport(),
        rate_limit_rps=None,
    ) as client:
        naive_runs = sum(1 for _ in client.list_workflow_runs(limit=100))
    naive = sim.request_log(tenants[0]).total

    counts = [n for tick in per_tick for n in tick.values()]
    active = sum(t.active for t in last.tenants)
    print(
        f"tenants: {len(tenants)}; history per tenant: {args.history:,} finished runs "
        f"+ {args.active} active; living schedules: {args.living}"
    )
    print(
        f"first tick: {first.requests} requests in total ({first.requests / len(tenants):.1f} "
        f"per tenant)"
    )
    print(
        f"steady state over {args.ticks} ticks x {len(tenants)} tenants: requests per tenant "
        f"per tick: max {max(counts)}, mean {statistics.mean(counts):.2f}, min {min(counts)}"
    )
    print(f"active runs looked at in the last tick: {active}")
    print(
        f"tick wall time (in-process simulator, SQLite store): median "
        f"{statistics.median(durations) * 1000:.0f} ms, max {max(durations) * 1000:.0f} ms"
    )
    print(
        f"asset event tick (same store, {events} events over {args.ticks} ticks): API requests "
        f"max {max(event_requests)}; wall time median "
        f"{statistics.median(event_durations) * 1000:.0f} ms, "
        f"max {max(event_durations) * 1000:.0f} ms"
    )
    print(f"naive full re-read of one tenant: {naive} requests for {naive_runs:,} runs")
    print("target <= 2 per tenant per tick:", "MET" if max(counts) <= 2 else "NOT MET")


if __name__ == "__main__":
    main()
