"""An SLA tick's process killed with SIGKILL while it delivers alerts to slow sinks.

Why a process evaluating the sensor and not ``dagster dev``: under the daemon, a sensor's tick
is evaluated in the code server's process (a gRPC subprocess), not in the daemon or the
webserver, so that evaluation is the process to kill mid-delivery; and the daemon's minimum
interval (60 s) plus its start-up on a shared 2-core host would put a restart and the next
tick past this test's one minute. The process here builds the runtime from the environment and
evaluates the sensor against a real ``$DAGSTER_HOME`` instance, as the code server does.

Thirty runs breach at once; the alerts go to a PagerDuty-like receiver (it de-duplicates on
``dedup_key`` as PagerDuty does) and to a plain webhook, both slow, so delivery is in flight
when the process group is killed. The next tick, in a fresh process after the claim lease,
delivers the rest: every (run, level) arrives, PagerDuty opens one incident per run, and
the only alert any receiver sees twice is the one in flight at the kill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from amperity_ops.simulator import ManualClock, Simulator, TenantSpec
from amperity_ops.store import Store
from amperity_ops_tests.crash.receivers import RecordingHook, copies
from amperity_ops_tests.receiver import serving

pytestmark = pytest.mark.slow

TENANT, TOKEN = "acme", "test-token"
RUNS = 30
DELAY_S = 0.12
"""Each receiver holds every request this long: 60 alerts take ~7 s to deliver."""
KILL_AFTER = 12
"""Requests the receivers have seen when the tick's process group is killed."""
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock() -> ManualClock:
    """Simulated time from now; the tick's process reads it from the simulator."""
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def served(clock: ManualClock) -> Iterator[tuple[Simulator, str]]:
    """Tenant acme on a real socket, no rate limit."""
    sim = Simulator([TenantSpec(tenant_id=TENANT, static_tokens=(TOKEN,), seed=5,
                                schedules=False)], clock=clock, rate_limit_rps=None)
    with sim.serve() as base_url:
        yield sim, base_url


def _environment(tmp_path: Path, base_url: str, pd_url: str, hook_url: str) -> dict[str, str]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "policies:\n  - {name: nightly, match: {name: 'Nightly*'}, warn_after: 1h,"
        " max_runtime: 2h}\n"
        f"alerts:\n  - {{kind: pagerduty, routing_key: pd-test-key, url: '{pd_url}'}}\n"
        f"  - {{kind: webhook, url: '{hook_url}'}}\n"
        f"tenants:\n  - {{name: {TENANT}, tenant_id: {TENANT}, access_token: {TOKEN},"
        f" base_url: '{base_url}', rate_limit_rps: 50}}\n"
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    return {**os.environ, "AMPERITY_OPS_CONFIG": str(policy),
            "AMPERITY_OPS_STORE_URL": f"sqlite:///{tmp_path / 'store.sqlite'}",
            "DAGSTER_HOME": str(home), "AMPERITY_OPS_CLOCK": "simulator",
            "AMPERITY_RATE_LIMIT_BACKEND": f"file://{tmp_path / 'budget'}"}


def _tick_process(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "amperity_ops_tests.crash.sla_tick_process"], cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )


def _kill_when_seen(tick: subprocess.Popen[bytes], receivers: list[type[RecordingHook]]) -> None:
    """SIGKILL the tick's process group once the receivers have seen ``KILL_AFTER`` requests."""
    deadline = time.monotonic() + 40
    try:
        while sum(len(r.seen) for r in receivers) < KILL_AFTER:
            if tick.poll() is not None:
                _, err = tick.communicate()
                pytest.fail(f"the tick ended before the kill: {err.decode()[-2000:]}")
            assert time.monotonic() < deadline, "delivery never started"
            time.sleep(0.01)
    finally:
        os.killpg(tick.pid, signal.SIGKILL)
        tick.wait(timeout=10)
    assert tick.returncode == -signal.SIGKILL


def test_tick_killed_mid_delivery_resends_at_most_the_alert_in_flight(
    served: tuple[Simulator, str], clock: ManualClock, tmp_path: Path
) -> None:
    """Killed mid-delivery: all alerts arrive, one PagerDuty incident per run, <= 1 duplicate."""
    sim, base_url = served
    runs = [sim.tenant(TENANT).add_run(name=f"Nightly Load {i}", started_ago=timedelta(hours=3))
            for i in range(RUNS)]
    pd = RecordingHook.fresh(delay_s=DELAY_S)
    hook = RecordingHook.fresh(delay_s=DELAY_S)
    with serving(pd) as pd_url, serving(hook) as hook_url:
        env = _environment(tmp_path, base_url, f"{pd_url}/v2/enqueue", f"{hook_url}/hook")
        _kill_when_seen(_tick_process(env), [pd, hook])
        time.sleep(DELAY_S + 0.3)  # the request in flight ends on the receiver's side
        seen_at_kill = len(pd.seen) + len(hook.seen)
        store = Store.from_url(env["AMPERITY_OPS_STORE_URL"])
        recorded = store.outbox_counts()
        assert recorded.get("delivered", 0) >= seen_at_kill - 1, recorded  # all but one
        assert sum(recorded.values()) == 2 * RUNS  # every alert was queued before delivery

        clock.advance(timedelta(minutes=3))  # past the killed process's claim lease
        restarted = _tick_process(env)
        out, err = restarted.communicate(timeout=50)
        assert restarted.returncode == 0, err.decode()[-2000:]
        assert store.outbox_counts() == {"delivered": 2 * RUNS}
        store.close()
    assert "outbox: " in out.decode()  # the restarted tick's summary

    expected = {(run.id, "breached") for run in runs}
    assert set(copies(hook.seen, "workflow_id", "level")) == expected  # every (run, level)
    triggers = [b for b in pd.seen if b["event_action"] == "trigger"]
    incidents = copies(triggers, "dedup_key", "payload.severity")
    assert len(incidents) == RUNS  # PagerDuty de-duplicates: one incident per (run, level)
    assert all(sum(run.id in key for run in runs) == 1 for key, _ in incidents)
    duplicates = (sum(n - 1 for n in incidents.values())
                  + sum(n - 1 for n in copies(hook.seen, "workflow_id", "level").values()))
    assert duplicates <= 1  # at most the alert in flight, across both receivers
