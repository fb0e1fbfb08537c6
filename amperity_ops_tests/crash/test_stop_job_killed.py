"""The stop job's process killed with SIGKILL right after its stop POST left (a real process).

The SLA sensor ticks in this process against a simulator served on a real socket; the stop
job runs in a ``dagster job execute`` subprocess on the same Dagster instance and store, and
is killed the moment the simulator receives its POST (the stop's answer is held back). The
next ticks complete the ledger row and either never send the stop again (Amperity applied
it) or request it once more under a new run key (it did not).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter, build_sensor_context

from amperity_ops.core import StopResult
from amperity_ops.defs.jobs import STOP_JOB_NAME, stop_run_config
from amperity_ops.defs.sensors import amperity_workflow_sla_sensor
from amperity_ops.monitoring.stop_retry import (
    NEVER_FINISHED_AFTER,
    RETRY_BACKOFF,
    attempt_run_key,
)
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.settings import load_ops_config
from amperity_ops.simulator import Faults, ManualClock, Simulator
from amperity_ops.store import Store
from amperity_ops_tests.crash.conftest import TENANT, TOKEN

pytestmark = pytest.mark.slow

HELD_S = 4.0
"""How long the simulator holds the stop before it acts and answers."""


def _setup(tmp_path: Path, base_url: str, clock: ManualClock) -> tuple[OpsRuntime, dict[str, str]]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "policies:\n  - {name: couriers, match: {name: 'Courier Group*'}, warn_after: 90m,"
        " max_runtime: 2h, action: stop}\n"
        "auto_stop: {enabled: true, dry_run: false}\nalerts: [{kind: log}]\n"
        f"tenants:\n  - {{name: {TENANT}, tenant_id: {TENANT}, access_token: {TOKEN},"
        f" base_url: '{base_url}', rate_limit_rps: 50}}\n"
    )
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "AMPERITY_OPS_CONFIG": str(policy), "AMPERITY_OPS_STORE_URL": store_url,
           "DAGSTER_HOME": str(home), "AMPERITY_OPS_CLOCK": "system",
           "AMPERITY_RATE_LIMIT_BACKEND": f"file://{tmp_path / 'budget'}"}
    runtime = OpsRuntime(config=load_ops_config(policy), store=Store.from_url(store_url),
                         clock=clock.now)
    return runtime, env


def _tick(runtime: OpsRuntime, instance: DagsterInstance) -> list[str]:
    context = build_sensor_context(instance=instance, resources={"amperity_ops": runtime})
    result = amperity_workflow_sla_sensor(context)
    return [r.run_key for r in result.run_requests or []]


def _run_job_and_kill_after_post(
    sim: Simulator, env: dict[str, str], tmp_path: Path, run_key: str, workflow_id: str,
    arrived: str,
) -> None:
    """``dagster job execute`` the stop; SIGKILL its process group when the POST arrives."""
    config = tmp_path / "run_config.json"
    config.write_text(json.dumps(stop_run_config(
        workflow_id=workflow_id, reason="SLA", tenant=TENANT,
        requested_by="sensor amperity_workflow_sla_sensor")))
    job = subprocess.Popen(
        [sys.executable, "-m", "dagster", "job", "execute", "-m", "amperity_ops.definitions",
         "-j", STOP_JOB_NAME, "-c", str(config), "--tags",
         json.dumps({"dagster/run_key": run_key})],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    deadline = time.monotonic() + 45
    try:
        # The fault is counted: it is used up the moment the POST reaches the simulator.
        while getattr(sim.faults(TENANT), arrived) > 0:
            assert job.poll() is None, job.stderr.read().decode() if job.stderr else ""
            assert time.monotonic() < deadline, "the stop POST never arrived"
            time.sleep(0.05)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait(timeout=10)
    assert job.returncode == -signal.SIGKILL
    time.sleep(HELD_S + 0.5)  # the simulator now acts on the POST (or refuses it)


@pytest.mark.parametrize("applied", [True, False], ids=["amperity-applied", "not-applied"])
def test_killed_stop_job_is_completed_and_retried_only_if_amperity_did_not_stop(
    applied: bool, served: tuple[Simulator, str], now_clock: ManualClock, tmp_path: Path
) -> None:
    """Killed after its POST: ledger completed; no second POST if applied, attempt 2 if not."""
    sim, base_url = served
    runtime, env = _setup(tmp_path, base_url, now_clock)
    instance = DagsterInstance.from_config(env["DAGSTER_HOME"])
    run = sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    stop_path = f"/workflow/runs/{run.id}/stop"
    first = attempt_run_key(TENANT, run.id, 1)
    assert _tick(runtime, instance) == [first]

    # Applied: the stop acts, then its answer is lost. Not applied: it is answered 500.
    fault = "lose_answers" if applied else "server_errors"
    sim.set_faults(TENANT, Faults(slow_seconds=HELD_S, only_paths=(stop_path,), **{fault: 1}))
    _run_job_and_kill_after_post(sim, env, tmp_path, first, run.id, fault)
    sim.set_faults(TENANT, Faults())
    posts = sim.request_log(TENANT).count(f"/api{stop_path}", method="POST")
    assert posts == 1
    [dead] = instance.get_runs(filters=RunsFilter(tags={"dagster/run_key": first}))
    assert dead.status is DagsterRunStatus.STARTED  # what Dagster's run monitoring ends
    assert dead.tags.get("dagster/max_runtime")
    [row] = runtime.store.stop_records(TENANT)
    assert row.result is None  # the job died before recording anything

    now_clock.advance(timedelta(minutes=1))
    assert _tick(runtime, instance) == []  # still in flight as far as anyone can tell
    now_clock.advance(NEVER_FINISHED_AFTER)
    requested = _tick(runtime, instance)
    [row] = runtime.store.stop_records(TENANT)
    assert row.result is StopResult.OUTCOME_UNKNOWN
    assert "never finished" in (row.detail or "")
    assert requested == []  # the backoff first
    now_clock.advance(RETRY_BACKOFF[0])
    requested = _tick(runtime, instance)
    with runtime.client(TENANT) as client:
        state = client.get_workflow_run(run.id).state.raw  # the run's true state
    if applied:
        assert requested == []
        assert state in ("stopping", "stopped")
        now_clock.advance(RETRY_BACKOFF[-1])
        assert _tick(runtime, instance) == []
    else:
        assert requested == [attempt_run_key(TENANT, run.id, 2)]
        assert state == "running"
    assert sim.request_log(TENANT).count(f"/api{stop_path}", method="POST") == 1
