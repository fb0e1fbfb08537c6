"""Demo only: start a long courier group every few minutes, so there is always a breach to see.

Run by ``./scripts/demo`` next to the simulator and ``dagster dev``. It talks to the simulated
tenant through the real client (``AmperityClient.from_env``: the ``AMPERITY_*`` variables the
demo exports) with the same ``POST /workflow/runs`` a person's "Run" button sends.

    python -m amperity_ops.demo.kickoff [--every 180] [--config-id cg-2Kc8nRw1Q]
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from amperity_ops.client import AmperityClient, AmperityError

__all__ = ["DEMO_CONFIG_ID", "main"]

DEMO_CONFIG_ID = "cg-2Kc8nRw1Q"
"""The simulator's "Daily Ecommerce Sources" courier group: about 45 simulated minutes long,
well past the demo policy's 10-minute ``max_runtime``."""

log = logging.getLogger("amperity_ops.demo.kickoff")


def main(argv: list[str] | None = None) -> int:
    """Starts the workflow now and then every ``--every`` seconds until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=180.0, help="real seconds between starts")
    parser.add_argument("--config-id", default=DEMO_CONFIG_ID, help="the workflow to start")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with AmperityClient.from_env() as client:
        while not stop.is_set():
            try:
                run = client.start_workflow(args.config_id)
            except AmperityError as err:  # the simulator may be restarting; try again later
                log.warning("could not start %s: %s", args.config_id, err)
            else:
                log.info("started %s (%s), state %s", run.id, run.name, run.state.raw)
            stop.wait(args.every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
