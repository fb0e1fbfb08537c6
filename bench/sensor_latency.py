"""A breach is alerted, and its stop requested, within one sensor interval (simulated time).

Runs of a ``Courier Group`` workflow (policy: max 2h, action stop) are started so that their
breach falls at different phases of the sensor's 60 s cycle. The real Dagster sensor
(``amperity_workflow_sla_sensor``, via ``build_sensor_context``) ticks every 60 s of simulated
time; for each run we record when its ``breached`` alert was delivered (log sink, through the
outbox) and when the sensor yielded the stop ``RunRequest``, relative to the breach instant.
The stop job is then executed in-process for each request, and the time to ``stopped`` noted.

    .venv/bin/python bench/sensor_latency.py [--runs 12] [--interval 60]

Target: alert and stop request within one sensor interval of the breach.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta

from dagster import build_sensor_context
from sensor_common import make_runtime, make_sim

from amperity_ops.defs.jobs import stop_amperity_workflow_run
from amperity_ops.defs.sensors import amperity_workflow_sla_sensor
from amperity_ops.simulator import ManualClock

MAX_RUNTIME = timedelta(hours=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--interval", type=int, default=60, help="sensor interval, seconds")
    args = parser.parse_args()
    interval = timedelta(seconds=args.interval)

    clock = ManualClock()
    sim = make_sim(["acme"], clock)
    world = sim.tenant("acme")
    world.add_history(10_000, days=90)
    runtime = make_runtime(sim, clock, ["acme"])

    # Breaches spread over the phases of one interval, all in the next few minutes.
    breach_at: dict[str, datetime] = {}
    for i in range(args.runs):
        offset = timedelta(seconds=30) + interval * i / args.runs + timedelta(minutes=i % 3)
        run = world.add_run(name=f"Courier Group {i:02d}", started_ago=MAX_RUNTIME - offset)
        breach_at[run.id] = run_created(world, run.id) + MAX_RUNTIME

    requested_at: dict[str, datetime] = {}
    cursor: str | None = None
    requests = []
    end = max(breach_at.values()) + 2 * interval
    while clock.now() <= end:
        with build_sensor_context(cursor=cursor, resources={"amperity_ops": runtime}) as ctx:
            result = amperity_workflow_sla_sensor(ctx)
        cursor = result.cursor
        for request in result.run_requests or []:
            workflow_id = request.run_key.split(":", 2)[2]
            requested_at.setdefault(workflow_id, clock.now())
            requests.append(request)
        clock.advance(interval)

    delivered_at: dict[str, datetime] = {}
    for item in runtime.store.outbox_items():
        if item.message.level.value == "breached" and item.delivered_at is not None:
            delivered_at[item.message.workflow_id] = item.delivered_at

    alert_lat = [(delivered_at[w] - b).total_seconds() for w, b in breach_at.items()]
    stop_lat = [(requested_at[w] - b).total_seconds() for w, b in breach_at.items()]

    stopped = 0
    for request in requests:
        config = request.run_config
        config["ops"]["stop_workflow_run"]["config"]["poll_interval_seconds"] = 5.0
        outcome = stop_amperity_workflow_run.execute_in_process(
            run_config=config, resources={"amperity_ops": runtime}, tags=request.tags
        )
        # The op's output is of type Nothing (metadata only): ask the simulator instead.
        workflow_id = request.run_key.split(":", 2)[2]
        stopped += outcome.success and world.state_of(workflow_id) == "stopped"

    print(
        f"runs breaching: {args.runs}, spread over one {args.interval} s interval; "
        f"10,000 runs of history"
    )
    print(
        f"breach -> 'breached' alert delivered: max {max(alert_lat):.0f} s, "
        f"min {min(alert_lat):.0f} s (all {len(alert_lat)} delivered)"
    )
    print(
        f"breach -> stop RunRequest yielded: max {max(stop_lat):.0f} s, "
        f"min {min(stop_lat):.0f} s ({len(requests)} requests, one per run)"
    )
    print(
        f"stop jobs run in-process: {stopped} of {len(requests)} runs stopped "
        f"(simulator stop delay 30 s, re-read every 5 s)"
    )
    within = max(alert_lat) <= args.interval and max(stop_lat) <= args.interval
    print("target: alert and stop request within one interval:", "MET" if within else "NOT MET")


def run_created(world, run_id: str) -> datetime:  # type: ignore[no-untyped-def]
    """The run's ``created_at`` as the API reports it."""
    return datetime.fromisoformat(world.run_json(run_id)["created_at"].replace("Z", "+00:00"))


if __name__ == "__main__":
    main()
