"""Demo only: start a long courier group every few minutes, so there is always a breach to see.

Run by ``./scripts/demo`` next to the simulator and ``dagster dev``. Each run is placed through
the simulator's control API (``POST /_sim/tenants/{tenant}/runs``) rather than Amperity's
``POST /workflow/runs``, because the demo needs a run that is certain to outlive its SLA: a
real start takes the workflow's usual 30-60 simulated minutes, which at the demo's speed can end
before a 60-second sensor tick sees the breach. The run is otherwise an ordinary one: listed,
polled, alerted and stopped through the public API like any other.

    python -m amperity_ops.demo.kickoff [--every 180] [--runs-for 7200]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

import httpx

__all__ = ["DEMO_WORKFLOW", "main", "place_demo_run"]

DEMO_WORKFLOW = {
    "name": "Daily Ecommerce Sources",
    "type": "courier.group/run",
    "config_id": "cg-2Kc8nRw1Q",
}
"""The simulator's daily courier group, which the demo policy stops after 10 minutes."""

log = logging.getLogger("amperity_ops.demo.kickoff")


def place_demo_run(client: httpx.Client, sim_root: str, tenant: str, runs_for_s: float) -> str:
    """Places one running "Daily Ecommerce Sources" run that would last ``runs_for_s``.

    Args:
        client: An HTTP client.
        sim_root: The simulator's root URL (``AMPERITY_BASE_URL`` without ``/api``).
        tenant: The simulated tenant id.
        runs_for_s: Simulated seconds until it would succeed on its own.

    Returns:
        The new run's id.

    Raises:
        httpx.HTTPError: The simulator did not accept it.
    """
    body = {
        **DEMO_WORKFLOW,
        "state": "running",
        "started_ago_seconds": 0,
        "finishes_in_seconds": runs_for_s,
        "principal_name": "Demo Kickoff",
    }
    answer = client.post(f"{sim_root}/_sim/tenants/{tenant}/runs", json=body, timeout=10)
    answer.raise_for_status()
    return str(answer.json()["id"])


def main(argv: list[str] | None = None) -> int:
    """Places a run now and then every ``--every`` seconds until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=180.0, help="real seconds between runs")
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
            try:
                run_id = place_demo_run(client, sim_root, tenant, args.runs_for)
            except httpx.HTTPError as err:  # the simulator may be restarting; try again later
                log.warning("could not place a demo run: %s", err)
            else:
                log.info("started %s (%s)", run_id, DEMO_WORKFLOW["name"])
            stop.wait(args.every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
