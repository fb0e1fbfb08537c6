"""Wall time of one SLA sensor tick over 1,000 active runs (rate limiter off).

One tenant with 10,000 finished runs and 1,000 active ones (the simulator's bulk history, runs
started up to 6 h ago, so hundreds are past a warning line or breached). The tick reads every
running run (10 pages of 100), plans, writes alert tracks and the outbox, records stops, and
delivers due alerts to the log sink, against a SQLite store on local disk. The first tick is
the expensive one (every warning/breach is new); later ticks are steady state.

    .venv/bin/python bench/sensor_scale.py [--active 1000] [--ticks 5] [--socket]

``--socket`` serves the simulator over a real HTTP socket (uvicorn) instead of in-process;
``--store-url`` puts the store elsewhere, e.g. an empty Postgres schema:
``postgresql+psycopg2://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dbench_sensor``.
``--max-stops-per-hour`` (default 5, the product's default) caps the stops requested, each of
which is one ledger write; ``--max-stops-per-hour 1000`` stops all ~500 breached runs at once.
Target: under 5 s per tick, excluding rate-limit waits (the limiter is off).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from datetime import timedelta

from sensor_common import TOKEN, make_runtime, make_sim

from amperity_ops.services.sla_guard import run_sla_tick
from amperity_ops.simulator import ManualClock
from amperity_ops.testing import simulator_client_factory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--active", type=int, default=1_000)
    parser.add_argument("--history", type=int, default=10_000)
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--socket", action="store_true", help="real HTTP socket, not in-process")
    parser.add_argument(
        "--max-stops-per-hour",
        type=int,
        default=5,
        help="auto_stop.max_stops_per_hour (default 5, the product's default)",
    )
    parser.add_argument(
        "--store-url",
        default=None,
        help="SQLAlchemy URL of an empty store (default: a fresh SQLite file)",
    )
    args = parser.parse_args()

    clock = ManualClock()
    sim = make_sim(["acme"], clock)
    sim.tenant("acme").add_history(args.history, active=args.active, days=90)
    # One stop policy for every workflow, tight enough that hundreds of the bulk active runs
    # (started up to 6 h ago) are warning or breached: the expensive case.
    policies = [
        {
            "name": "all",
            "match": {"name": "*"},
            "warn_after": "1h",
            "max_runtime": "3h",
            "action": "stop",
        }
    ]
    runtime = make_runtime(
        sim,
        clock,
        ["acme"],
        policies=policies,
        store_url=args.store_url,
        auto_stop={"max_stops_per_hour": args.max_stops_per_hour},
    )
    with contextlib.ExitStack() as stack:
        if args.socket:
            base_url = stack.enter_context(sim.serve())
            runtime.client_factory = simulator_client_factory(
                clock, token=TOKEN, base_url=base_url
            )

        timings = []
        results = []
        last = None
        for _ in range(args.ticks):
            started = time.perf_counter()
            last = run_sla_tick(
                runtime,
                now=clock.now(),
                budget_s=30,
                last_tick_at=last.started_at if last else None,
            )
            timings.append(time.perf_counter() - started)
            results.append(last)
            clock.advance(timedelta(seconds=60))

    first = results[0]
    levels = first.tenants[0].levels
    dialect = runtime.store.engine.dialect.name
    print(
        f"active runs: {first.tenants[0].active} (history {args.history:,}); transport: "
        f"{'HTTP socket' if args.socket else 'in-process'}; store: {dialect}"
    )
    print(
        f"first tick: {timings[0]:.2f} s, {first.requests} requests, levels "
        f"{dict(levels)}, {first.tenants[0].alerts} alerts enqueued, "
        f"{len(first.stop_requests)} stops requested, "
        f"{first.delivery.delivered if first.delivery else 0} alerts delivered"
    )
    steady = timings[1:]
    if steady:
        print(
            f"steady ticks ({len(steady)}): median {statistics.median(steady):.2f} s, "
            f"max {max(steady):.2f} s, {results[-1].requests} requests each"
        )
    print("target < 5 s per tick:", "MET" if max(timings) < 5 else "NOT MET")


if __name__ == "__main__":
    main()
