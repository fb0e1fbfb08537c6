"""Demo only: start a long courier group every few minutes, so there is always a breach to see.

Run by ``./scripts/demo`` next to the simulator and ``dagster dev``. Each run is placed through
the simulator's control API (``POST /_sim/tenants/{tenant}/runs``) rather than Amperity's
``POST /workflow/runs``, because the demo needs a run that is certain to outlive its SLA: a
real start takes the workflow's usual 30-60 simulated minutes, which at the demo's speed can end
before a 60-second sensor tick sees the breach. The run is otherwise an ordinary one: listed,
polled, alerted and stopped through the public API like any other.

Each run is placed in step with the SLA sensor (read from Dagster's GraphQL API with
``--dagster-url``): it is backdated so that it breaches a few seconds *after* a sensor tick.
The breach then lasts until the next tick stops it, about a full minute, so the minutely
scheduled poll always lands inside it and records the red ``runs_within_sla`` check. Without
a tick to align to, the run starts now.

    python -m amperity_ops.demo.kickoff [--every 240] [--runs-for 7200] \
        [--dagster-url http://127.0.0.1:3000 --speed 10 --breach-after 108]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from types import FrameType

import httpx

__all__ = ["DEMO_WORKFLOW", "last_sensor_tick", "main", "place_demo_run", "real_seconds_ago"]

DEMO_WORKFLOW = {
    "name": "Daily Ecommerce Sources",
    "type": "courier.group/run",
    "config_id": "cg-2Kc8nRw1Q",
}
"""The simulator's daily courier group, which the demo policy stops after 10 minutes."""

log = logging.getLogger("amperity_ops.demo.kickoff")


SENSOR_INTERVAL_S = 60.0
"""The SLA sensor's tick interval (real seconds)."""
AFTER_TICK_S = 8.0
"""The breach starts this long after a predicted tick: late enough to miss it even when the
ticks drift (a tick came 65 s after the one before in the demo), early enough that the
breach still lasts about a minute, until the next tick stops the run."""
LEAD_S = 50.0
"""The breach is never sooner than this after the run is placed (real seconds)."""

_TICK_QUERY = """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) {
  ... on Sensor { sensorState { ticks(limit: 1) { timestamp } } } } }"""


def real_seconds_ago(now: float, last_tick: float | None, breach_after_s: float) -> float:
    """How long ago (real seconds) a run must have started to breach just after a sensor tick.

    Args:
        now: The current time (epoch seconds).
        last_tick: The SLA sensor's latest tick (epoch seconds), None if unknown.
        breach_after_s: Real seconds from a run's start to its breach.

    Returns:
        Between 0 and ``SENSOR_INTERVAL_S``: the breach lands ``AFTER_TICK_S`` after a
        predicted tick, at least ``LEAD_S`` from now; 0 when no tick is known.
    """
    if last_tick is None or last_tick > now:
        return 0.0
    earliest = now + LEAD_S
    ticks = max(0, int((earliest - last_tick - AFTER_TICK_S) // SENSOR_INTERVAL_S) + 1)
    breach = last_tick + ticks * SENSOR_INTERVAL_S + AFTER_TICK_S
    return min(max(now + breach_after_s - breach, 0.0), SENSOR_INTERVAL_S)


def last_sensor_tick(client: httpx.Client, dagster_url: str) -> float | None:
    """The SLA sensor's latest tick (epoch seconds) from Dagster's GraphQL API, or None."""
    selector = {"repositoryLocationName": "amperity_ops", "repositoryName": "__repository__",
                "sensorName": "amperity_workflow_sla_sensor"}
    try:
        answer = client.post(f"{dagster_url.rstrip('/')}/graphql", timeout=10,
                             json={"query": _TICK_QUERY, "variables": {"s": selector}})
        answer.raise_for_status()
        ticks = answer.json()["data"]["sensorOrError"]["sensorState"]["ticks"]
        return float(ticks[0]["timestamp"]) if ticks else None
    except (httpx.HTTPError, KeyError, TypeError, IndexError, ValueError) as err:
        log.warning("could not read the SLA sensor's ticks (%s); starting the run now", err)
        return None


def place_demo_run(client: httpx.Client, sim_root: str, tenant: str, runs_for_s: float,
                   started_ago_s: float = 0.0) -> str:
    """Places one running "Daily Ecommerce Sources" run that would last ``runs_for_s``.

    Args:
        client: An HTTP client.
        sim_root: The simulator's root URL (``AMPERITY_BASE_URL`` without ``/api``).
        tenant: The simulated tenant id.
        runs_for_s: Simulated seconds until it would succeed on its own.
        started_ago_s: Simulated seconds it has already run.

    Returns:
        The new run's id.

    Raises:
        httpx.HTTPError: The simulator did not accept it.
    """
    body = {
        **DEMO_WORKFLOW,
        "state": "running",
        "started_ago_seconds": round(started_ago_s),
        "finishes_in_seconds": runs_for_s,
        "principal_name": "Demo Kickoff",
    }
    answer = client.post(f"{sim_root}/_sim/tenants/{tenant}/runs", json=body, timeout=10)
    answer.raise_for_status()
    return str(answer.json()["id"])


def main(argv: list[str] | None = None) -> int:
    """Places a run now and then every ``--every`` seconds until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=240.0, help="real seconds between runs")
    parser.add_argument("--dagster-url", help="Dagster webserver, to align runs to the sensor")
    parser.add_argument("--speed", type=float, default=10.0, help="the simulator's speed")
    parser.add_argument("--breach-after", type=float, default=108.0,
                        help="real seconds from a run's start to its breach (policy.yaml)")
    parser.add_argument(
        "--runs-for",
        type=float,
        default=7200.0,
        help="simulated seconds each run would take if nobody stopped it",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here
    base_url = os.environ["AMPERITY_BASE_URL"].rstrip("/")
    sim_root = base_url.removesuffix("/api")
    tenant = os.environ["AMPERITY_TENANT_ID"]

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with httpx.Client() as client:
        while not stop.is_set():
            tick = last_sensor_tick(client, args.dagster_url) if args.dagster_url else None
            ago = real_seconds_ago(time.time(), tick, args.breach_after)
            try:
                run_id = place_demo_run(client, sim_root, tenant, args.runs_for,
                                        started_ago_s=ago * args.speed)
            except httpx.HTTPError as err:  # the simulator may be restarting; try again later
                log.warning("could not place a demo run: %s", err)
            else:
                log.info("started %s (%s), %.0f s real ago: breaches in %.0f s",
                         run_id, DEMO_WORKFLOW["name"], ago, args.breach_after - ago)
            stop.wait(args.every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
