"""Startable workflow assets over the simulator: start or attach, stream, wait, stop once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from dagster import (
    AssetKey,
    DagsterExecutionInterruptedError,
    DagsterInstance,
    materialize,
)

from amperity_ops.core import RequesterKind
from amperity_ops.defs.jobs import TENANT_TAG, WORKFLOW_ID_TAG
from amperity_ops.defs.start import build_startable_workflow_assets
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.simulator import Faults, ManualClock, Simulator
from amperity_ops_tests.services.helpers import TENANT, make_config

DAILY = "Daily Ecommerce Sources"
DAILY_CONFIG = "cg-2Kc8nRw1Q"
DAILY_KEY = AssetKey(["amperity", TENANT, "courier_groups", "daily_ecommerce_sources"])
START_PATH = "/api/workflow/runs"


@pytest.fixture
def runtime(runtime: OpsRuntime, clock: ManualClock) -> OpsRuntime:
    """The services' runtime: monotonic time moves with the simulated sleep, 60 s polls."""
    runtime.monotonic = lambda: clock.now().timestamp()
    runtime.config = make_config(start={"poll_interval": "60s", "timeout": "3h"},
                                 startable={DAILY: DAILY_CONFIG})
    return runtime


@pytest.fixture
def instance() -> DagsterInstance:
    """An ephemeral instance, so the run's logs and tags can be read back."""
    return DagsterInstance.ephemeral()


def _materialize(runtime: OpsRuntime, instance: DagsterInstance) -> Any:
    assets = build_startable_workflow_assets(TENANT, runtime.config.startable)
    return materialize(assets, resources={"amperity_ops": runtime}, instance=instance,
                       raise_on_error=False)


def _messages(instance: DagsterInstance, result: Any) -> list[str]:
    return [e.user_message for e in instance.all_logs(result.run_id) if e.user_message]


def _starts(sim: Simulator) -> int:
    return sim.request_log(TENANT).count(START_PATH, method="POST")


def _stop_posts(sim: Simulator) -> int:
    log = sim.request_log(TENANT)
    return sum(1 for e in log.entries() if e.method == "POST" and e.path.endswith("/stop"))


def _on_sleep(runtime: OpsRuntime, action: Callable[[int], None]) -> None:
    """Run ``action(n)`` on the n-th simulated sleep (the wait's polls), then sleep as before."""
    sleep = runtime.sleep
    calls = [0]

    def hooked(seconds: float) -> None:
        calls[0] += 1
        action(calls[0])
        sleep(seconds)

    runtime.sleep = hooked


def test_materializing_starts_streams_and_succeeds(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """One start POST; state changes logged; success with the run's id, times and link."""
    result = _materialize(runtime, instance)
    assert result.success
    assert _starts(quiet_sim) == 1
    [mat] = result.asset_materializations_for_node(result.all_node_events[0].node_name)
    assert mat.asset_key == DAILY_KEY
    meta = {k: v.value for k, v in mat.metadata.items()}
    run_id = meta["amperity_run_id"]
    assert quiet_sim.tenant(TENANT).state_of(run_id) == "succeeded"
    assert meta["attached"] is False
    assert meta["amperity_link"].endswith(f"/#/workflows/{run_id}")
    assert meta["ended_at"] > meta["started_at"]
    messages = _messages(instance, result)
    assert any(f"started {run_id}" in m for m in messages)
    assert any("finalizing" in m for m in messages), messages
    tags = instance.get_run_by_id(result.run_id).tags
    assert tags[WORKFLOW_ID_TAG] == run_id
    assert tags[TENANT_TAG] == TENANT


def test_a_run_in_flight_is_attached_to_not_started_again(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """A run of the workflow already running: no start POST, the asset follows that run."""
    world = quiet_sim.tenant(TENANT)
    running = world.add_run(name=DAILY, type="courier.group/run", state="running",
                            started_ago=timedelta(minutes=10), finishes_in=timedelta(minutes=30),
                            final_state="succeeded", config_id=DAILY_CONFIG)
    result = _materialize(runtime, instance)
    assert result.success
    assert _starts(quiet_sim) == 0
    [mat] = result.asset_materializations_for_node(result.all_node_events[0].node_name)
    assert mat.metadata["amperity_run_id"].value == running.id
    assert mat.metadata["attached"].value is True


def test_a_failed_run_fails_with_amperitys_error_and_attribution(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """The workflow fails: no materialization, the failure names Amperity's error and who."""
    world = quiet_sim.tenant(TENANT)
    running = world.add_run(name=DAILY, type="courier.group/run", state="running",
                            started_ago=timedelta(minutes=5), config_id=DAILY_CONFIG)
    _on_sleep(runtime, lambda n: n == 1 and world.finish_run(running.id, "failed",
                                                             error="customer"))
    result = _materialize(runtime, instance)
    assert not result.success
    assert result.get_asset_materialization_events() == []
    [failure] = result.get_step_failure_events()
    data = failure.step_failure_data.user_failure_data
    assert running.id in data.description
    assert "failed" in data.description
    assert "(customer)" in data.description
    assert data.metadata["error_attribution"].value == "customer"


def test_timeout_fails_and_leaves_the_run_running(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """A run that outlasts start.timeout: the Dagster run fails, nothing is stopped."""
    world = quiet_sim.tenant(TENANT)
    stuck = world.add_run(name=DAILY, type="courier.group/run", state="running",
                          started_ago=timedelta(minutes=5), config_id=DAILY_CONFIG)
    result = _materialize(runtime, instance)
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert "had not ended after" in failure.step_failure_data.user_failure_data.description
    assert world.state_of(stuck.id) == "running"
    assert _stop_posts(quiet_sim) == 0


def test_a_lost_start_answer_is_verified_by_reading_not_resent(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """The start's answer is lost: the run it created is found by listing; one POST in all."""
    quiet_sim.set_faults(TENANT, Faults(lose_answers=1, only_paths=("/workflow/runs",)))
    result = _materialize(runtime, instance)
    assert result.success, _messages(instance, result)
    assert _starts(quiet_sim) == 1
    assert len(quiet_sim.tenant(TENANT).runs(state="succeeded")) == 1


def _terminate(instance: DagsterInstance) -> None:
    [record] = instance.get_runs(limit=1)
    instance.report_run_canceling(record)


@pytest.mark.parametrize("how", ["status", "interrupt", "both"])
def test_terminating_the_dagster_run_stops_the_amperity_run_once(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance, how: str
) -> None:
    """Terminated (CANCELING, Dagster's interrupt, or both): one stop POST, one ledger row."""

    def terminate(n: int) -> None:
        if n == 2 and how in ("status", "both"):
            _terminate(instance)
        if (n == 2 and how == "interrupt") or (n == 3 and how == "both"):
            raise DagsterExecutionInterruptedError()

    _on_sleep(runtime, terminate)
    result = _materialize(runtime, instance)
    assert not result.success
    assert _stop_posts(quiet_sim) == 1
    [run] = quiet_sim.tenant(TENANT).runs()
    assert quiet_sim.tenant(TENANT).state_of(run.id) in ("stopping", "stopped")
    [row] = runtime.store.stop_records(TENANT)
    assert row.workflow_id == run.id
    assert row.requester.kind is RequesterKind.PERSON
    assert row.requester.name == f"dagster run {result.run_id}"
    assert f"Dagster run {result.run_id}" in row.reason
    assert "terminated" in row.reason


def test_stop_on_terminate_false_leaves_the_run_alone(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """start.stop_on_terminate: false: the termination sends no stop and writes no ledger row."""
    runtime.config = make_config(start={"stop_on_terminate": False},
                                 startable={DAILY: DAILY_CONFIG})
    _on_sleep(runtime, lambda n: n == 1 and _terminate(instance))
    result = _materialize(runtime, instance)
    assert not result.success
    assert _stop_posts(quiet_sim) == 0
    assert runtime.store.stop_records(TENANT) == []
    assert any("stop_on_terminate is false" in m for m in _messages(instance, result))
