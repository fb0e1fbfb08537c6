"""``dagster dev`` (webserver + daemon + code server) killed with SIGKILL mid-delivery.

Thirty runs breach at once; the alerts go to a PagerDuty-like receiver (it de-duplicates on
``dedup_key`` as PagerDuty does) and to a plain webhook, both slow, so the SLA sensor's first
tick is still delivering when the whole ``dagster dev`` process group is killed. ``dagster dev``
is then started again on the same ``$DAGSTER_HOME`` and history store: Dagster moves the
dangling tick to SKIPPED, and the next tick (after the killed process's claim lease) delivers
the rest. Every (run, level) arrives, PagerDuty opens one incident per run, and the only alert
any receiver sees twice is the one in flight at the kill.

The policy's ``sensor.interval`` is 5 s, which the code location reads at load and gives
Dagster as the sensor's minimum interval, so the restarted daemon ticks within seconds instead
of a minute and the whole test stays well under a minute.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops.store import Store
from amperity_ops_tests.crash.conftest import TENANT, TOKEN, free_port
from amperity_ops_tests.crash.receivers import RecordingHook, copies
from amperity_ops_tests.receiver import serving

pytestmark = pytest.mark.slow

RUNS = 30
DELAY_S = 0.12
"""Each receiver holds every request this long: 60 alerts take ~7 s to deliver."""
KILL_AFTER = 12
"""Requests the receivers have seen when ``dagster dev`` is killed."""
REPO = Path(__file__).resolve().parents[2]
DAGSTER = Path(sys.executable).with_name("dagster")


def _environment(tmp_path: Path, base_url: str, pd_url: str, hook_url: str) -> dict[str, str]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "policies:\n  - {name: nightly, match: {name: 'Nightly*'}, warn_after: 1h,"
        " max_runtime: 2h}\n"
        f"alerts:\n  - {{kind: pagerduty, routing_key: pd-test-key, url: '{pd_url}'}}\n"
        f"  - {{kind: webhook, url: '{hook_url}'}}\n"
        "sensor: {interval: 5s}\n"
        # The ingest sensor ticks too under dagster dev: its alerts are not what is counted.
        "ingest_thresholds: {max_error_rate: 1, max_reject_rate: 1,"
        " alert_on_failed_feed: false}\n"
        f"tenants:\n  - {{name: {TENANT}, tenant_id: {TENANT}, access_token: {TOKEN},"
        f" base_url: '{base_url}', rate_limit_rps: 50}}\n"
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")  # the instance as shipped
    return {**os.environ, "AMPERITY_OPS_CONFIG": str(policy),
            "AMPERITY_OPS_STORE_URL": f"sqlite:///{tmp_path / 'store.sqlite'}",
            "DAGSTER_HOME": str(home), "AMPERITY_OPS_CLOCK": "simulator",
            "AMPERITY_RATE_LIMIT_BACKEND": f"file://{tmp_path / 'budget'}",
            # No scheduled poll or inventory run launched in the middle of the test.
            "AMPERITY_OPS_POLL_CRON": "0 0 1 1 *",
            "PYTHONUNBUFFERED": "1"}


def _dagster_dev(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``dagster dev`` on the project's workspace, leading its own process group."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(DAGSTER), "dev", "-w", str(REPO / "workspace.yaml"), "--host", "127.0.0.1",
             "--port", str(free_port())],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )


def _wait_for(done: Callable[[], bool], dev: subprocess.Popen[bytes], log: Path,
              what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if dev.poll() is not None:
            pytest.fail(f"dagster dev ended early: {log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout_s:.0f} s: {log.read_text()[-3000:]}")
        time.sleep(0.02)


def _kill_group(dev: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Signal every process ``dagster dev`` started (webserver, daemon, code server)."""
    try:
        os.killpg(dev.pid, sig)
    except ProcessLookupError:
        return
    try:
        dev.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(dev.pid, signal.SIGKILL)
        dev.wait(timeout=10)


def _group_gone(pgid: int, timeout_s: float = 10) -> bool:
    """Whether every process of the group has ended (killed children are reaped by init)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_dagster_dev_killed_mid_delivery_resends_at_most_the_alert_in_flight(
    served: tuple[Simulator, str], now_clock: ManualClock, tmp_path: Path
) -> None:
    """Killed mid-delivery: all alerts arrive, one PagerDuty incident per run, <= 1 duplicate."""
    sim, base_url = served
    runs = [sim.tenant(TENANT).add_run(name=f"Nightly Load {i}", started_ago=timedelta(hours=3))
            for i in range(RUNS)]
    pd = RecordingHook.fresh(delay_s=DELAY_S)
    hook = RecordingHook.fresh(delay_s=DELAY_S)
    log = tmp_path / "dagster_dev.log"
    with serving(pd) as pd_url, serving(hook) as hook_url:
        env = _environment(tmp_path, base_url, f"{pd_url}/v2/enqueue", f"{hook_url}/hook")
        store = Store.from_url(env["AMPERITY_OPS_STORE_URL"])
        dev = _dagster_dev(env, log)
        try:
            _wait_for(lambda: len(pd.seen) + len(hook.seen) >= KILL_AFTER, dev, log,
                      "the SLA sensor's first tick did not start delivering", 45)
        finally:
            _kill_group(dev, signal.SIGKILL)
        assert dev.returncode == -signal.SIGKILL
        assert _group_gone(dev.pid)  # the webserver, daemon and code server died with it
        time.sleep(DELAY_S + 0.3)  # the request in flight ends on the receiver's side
        seen_at_kill = len(pd.seen) + len(hook.seen)
        assert seen_at_kill < 2 * RUNS  # killed mid-delivery, not after it
        recorded = store.outbox_counts()
        assert recorded.get("delivered", 0) >= seen_at_kill - 1, recorded  # all but one
        assert sum(recorded.values()) == 2 * RUNS  # every alert was queued before delivery

        now_clock.advance(timedelta(minutes=3))  # past the killed process's claim lease
        dev = _dagster_dev(env, log)
        try:
            _wait_for(lambda: store.outbox_counts() == {"delivered": 2 * RUNS}, dev, log,
                      "the restarted dagster dev did not deliver the rest", 45)
            # Read before the shutdown: Dagster's own daemon may log a traceback while the code
            # server goes away under it ("Location ... does not exist"), which is not ours.
            before_shutdown = log.read_text()
        finally:
            _kill_group(dev, signal.SIGTERM)
        store.close()
    assert "Traceback" not in before_shutdown

    expected = {(run.id, "breached") for run in runs}
    assert set(copies(hook.seen, "workflow_id", "level")) == expected  # every (run, level)
    triggers = [b for b in pd.seen if b["event_action"] == "trigger"]
    incidents = copies(triggers, "dedup_key", "payload.severity")
    assert len(incidents) == RUNS  # PagerDuty de-duplicates: one incident per (run, level)
    assert all(sum(run.id in key for run in runs) == 1 for key, _ in incidents)
    duplicates = (sum(n - 1 for n in incidents.values())
                  + sum(n - 1 for n in copies(hook.seen, "workflow_id", "level").values()))
    assert duplicates <= 1  # at most the alert in flight, across both receivers
