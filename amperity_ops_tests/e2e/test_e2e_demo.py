"""The end-to-end proof (bench/e2e_demo.py) as a test: real dagster dev, daemon and simulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_breach_is_alerted_and_stopped_through_the_daemon() -> None:
    """A breached run is alerted (webhook) and stopped by a SUCCESS stop job, read via GraphQL.

    Runs ``bench/e2e_demo.py --mode fast`` (about 45 s: Dagster's start-up, one sensor tick,
    one stop job); the script itself checks the webhook, the GraphQL answers and the simulator.
    """
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "e2e_demo.py"), "--mode", "fast", "--timeout", "150"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "RESULT: ok" in out
    assert "1 run(s) of stop_amperity_workflow_run" in out
    assert "SUCCESS" in out
    assert "is stopped" in out
