"""A code server's memory over many SLA ticks at 1,000 tenants, the simulator in its own process.

``bench/sensor_tenants.py`` serves the simulated tenants in the measuring process, so its
resident memory also holds the simulator's world and request logs. Here the simulator is
``amperity-ops simulator`` in a process of its own (every tenant answering after ``--latency``
seconds, each behind its own 10 requests-per-second limiter), and this process does only what
a code server does: it evaluates the SLA sensor itself (``amperity_workflow_sla_sensor``, with
a Dagster sensor context and the runtime built from a policy file, as the code location builds
it) ``--ticks`` times, carrying the cursor from tick to tick. Printed: each tick's time and the
process's resident memory (RSS, after a garbage collection) at ticks 1, 5, 10, 20 and 30, and
its growth over all ticks and from tick 10 to the last.

    .venv/bin/python bench/sensor_memory.py [--tenants 1000] [--ticks 30] [--latency 0.1]
        [--store-url URL]

Target (issue 10): the process grows by < 200 MB over 30 ticks and not from tick 10 to 30.
glibc's allocator keeps up to 8 arenas per core for threads that allocate at the same time;
run with ``MALLOC_ARENA_MAX=2`` to see how much of the growth is that (see README).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from dagster import DagsterInstance, build_sensor_context

TOKEN = "bench-token"
MARKS = (1, 5, 10, 20, 30, 40, 60, 80, 100, 120, 160, 200)


def rss_mb() -> float:
    """Resident memory of this process, in MB (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def start_simulator(names: list[str], latency: float) -> tuple[subprocess.Popen[str], str]:
    """``amperity-ops simulator`` on a free port; returns it and its base URL."""
    exe = Path(sys.executable).with_name("amperity-ops")
    args = [str(exe), "simulator", "--port", "0", "--token", TOKEN, "--quiet-world",
            "--active-runs", "5", "--history-days", "0", "--slow", str(latency),
            "--rate-limit", "10"]
    for name in names:
        args += ["--tenant", name]
    sim = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert sim.stdout is not None
    for line in sim.stdout:
        found = re.search(r"Simulated Amperity API at (\S+)", line)
        if found:
            return sim, found.group(1)
    raise RuntimeError(f"the simulator did not start (exit {sim.wait()})")


def write_policy(path: Path, names: list[str], base_url: str) -> None:
    lines = [
        "policies:",
        "  - {name: everything, match: {name: '*'}, warn_after: 20m, max_runtime: 40m}",
        "alerts: [{kind: log}]",
        "sensor: {interval: 5s, time_budget: 40s, tenant_timeout: 20s}",
        "tenants:",
        *(f"  - {{name: {n}, tenant_id: {n}, access_token: {TOKEN}, base_url: '{base_url}'}}"
          for n in names),
    ]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per answer")
    parser.add_argument("--store-url", default=None, help="an empty store (default: SQLite)")
    parser.add_argument("--trace", action="store_true",
                        help="also trace Python's allocations (tracemalloc, slower) and print "
                             "the lines whose memory grew most from tick 10 to the last")
    args = parser.parse_args()
    if args.trace:
        tracemalloc.start(8)

    # The tick's own lines (thousands per tick here) would bury the figures.
    for name in ("amperity_ops", "dagster"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    names = [f"mem-{i:04d}" for i in range(args.tenants)]
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    sim, base_url = start_simulator(names, args.latency)
    try:
        policy = work / "policy.yaml"
        write_policy(policy, names, base_url)
        os.environ["AMPERITY_OPS_CONFIG"] = str(policy)
        os.environ["AMPERITY_OPS_STORE_URL"] = (
            args.store_url or f"sqlite:///{work / 'store.sqlite'}")
        os.environ["DAGSTER_HOME"] = str(work)
        # Imported after the environment is set: the code location reads it at load.
        from amperity_ops.defs.sensors import amperity_workflow_sla_sensor
        from amperity_ops.services.runtime import OpsRuntime

        runtime = OpsRuntime.from_settings()
        print(f"{args.tenants} tenants, {args.latency * 1000:.0f} ms per answer, simulator in "
              f"its own process, store {runtime.store.url.split(':')[0]}, "
              f"MALLOC_ARENA_MAX={os.environ.get('MALLOC_ARENA_MAX', 'unset')}:")
        memory: dict[int, float] = {}
        cursor: str | None = None
        baseline: tracemalloc.Snapshot | None = None
        walls: list[float] = []
        with DagsterInstance.ephemeral() as instance:
            for tick in range(1, args.ticks + 1):
                started = time.perf_counter()
                context = build_sensor_context(instance=instance, cursor=cursor,
                                               resources={"amperity_ops": runtime})
                result = amperity_workflow_sla_sensor(context)
                cursor = result.cursor
                walls.append(time.perf_counter() - started)
                gc.collect()
                memory[tick] = rss_mb()
                if args.trace and tick == 10:
                    baseline = tracemalloc.take_snapshot()
                if tick in MARKS or tick == args.ticks:
                    print(f"  tick {tick}: {walls[-1]:.1f} s, RSS {memory[tick]:.0f} MB",
                          flush=True)
                time.sleep(max(0.0, 5.2 - walls[-1]))  # the policy's interval: every tick due
        runtime.close()
    finally:
        sim.terminate()
        sim.wait(timeout=30)
    if baseline is not None:
        diff = tracemalloc.take_snapshot().compare_to(baseline, "traceback")
        grown = sorted((d for d in diff if d.size_diff > 0), key=lambda d: -d.size_diff)
        traced = tracemalloc.get_traced_memory()[0] / 1e6
        print(f"  Python heap (tracemalloc) now {traced:.1f} MB; grew most since tick 10 "
              f"(RSS above holds tracemalloc's own snapshot: read it without --trace):")
        for stat in grown[:8]:
            frame = stat.traceback[0]
            print(f"    {stat.size_diff / 1e3:+9.1f} kB {stat.count_diff:+6d} blocks  "
                  f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}")
    first, last = memory[1], memory[args.ticks]
    tenth = memory.get(10, first)
    later = [memory[t] for t in sorted(memory) if t >= 10]
    print(f"  growth: tick 1 -> {args.ticks}: {last - first:+.1f} MB; "
          f"tick 10 -> {args.ticks}: {last - tenth:+.1f} MB "
          f"(target < 200 MB, and flat from tick 10)")
    if len(later) >= 2:
        print(f"  from tick 10 on: RSS between {min(later):.0f} and {max(later):.0f} MB, "
              f"trend {slope(later):+.2f} MB per tick (least squares over every tick)")
    half = [memory[t] for t in sorted(memory) if t > args.ticks // 2]
    if args.ticks >= 40 and len(half) >= 2:
        print(f"  last {len(half)} ticks: RSS between {min(half):.0f} and {max(half):.0f} MB, "
              f"trend {slope(half):+.2f} MB per tick")


def slope(values: list[float]) -> float:
    """The least-squares slope of ``values`` over their index (MB per tick)."""
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    den = sum((i - mean_x) ** 2 for i in range(n))
    return num / den


if __name__ == "__main__":
    main()
