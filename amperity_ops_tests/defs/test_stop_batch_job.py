"""Many stops in one SLA tick: one batch RunRequest, each stop done as the stop job does it.

The sensor is evaluated against a real (ephemeral) Dagster instance over the simulator; the
batch job it asks for is executed in process with the request's own config and tags.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from dagster import DagsterInstance, SensorResult, build_sensor_context

from amperity_ops.core import StopResult
from amperity_ops.defs.sensors import amperity_workflow_sla_sensor
from amperity_ops.defs.stop_batch_job import stop_amperity_workflow_runs
from amperity_ops.monitoring.stop_batches import BATCH_ABOVE
from amperity_ops.monitoring.stop_retry import RETRY_BACKOFF
from amperity_ops.monitoring.tick_inputs import LOST_STOP_AFTER
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.simulator import Faults, ManualClock, Simulator
from amperity_ops_tests.services.helpers import TENANT, make_config, make_runtime

RUNS = BATCH_ABOVE + 2


def _tick(runtime: OpsRuntime, instance: DagsterInstance) -> SensorResult:
    with build_sensor_context(instance=instance, resources={"amperity_ops": runtime}) as ctx:
        result = amperity_workflow_sla_sensor(ctx)
    assert isinstance(result, SensorResult)
    return result


def _breached(sim: Simulator, count: int = RUNS) -> list[str]:
    return [sim.tenant(TENANT).add_run(name=f"Courier Group {i}",
                                       started_ago=timedelta(hours=3)).id
            for i in range(count)]


def _runtime(sim: Simulator, clock: ManualClock, store_url: str) -> OpsRuntime:
    return make_runtime(sim, clock, store_url,
                        make_config(auto_stop={"max_stops_per_hour": 100}))


def test_many_stops_in_one_tick_are_one_batch_run_that_stops_each(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """One RunRequest carries every stop; executed, it stops each run and finishes its row."""
    runtime = _runtime(quiet_sim, clock, store_url)
    ids = _breached(quiet_sim)
    with DagsterInstance.ephemeral() as instance:
        [request] = _tick(runtime, instance).run_requests or []
        assert request.job_name == "stop_amperity_workflow_runs"
        assert str(request.run_key).startswith(f"stops:{RUNS}:")
        config = request.run_config["ops"]["stop_workflow_runs"]["config"]
        assert sorted(s["workflow_id"] for s in config["stops"]) == sorted(ids)
        assert config["requested_by"] == "sensor amperity_workflow_sla_sensor"
        assert request.tags["amperity-ops/stops"] == str(RUNS)
        rows = runtime.store.stop_records(TENANT)
        assert {r.launched_as for r in rows} == {request.run_key}  # each row knows its carrier
        assert sorted(r.run_key for r in rows) == sorted(f"stop:{TENANT}:{i}" for i in ids)

        result = stop_amperity_workflow_runs.execute_in_process(
            run_config=request.run_config, resources={"amperity_ops": runtime},
            instance=instance, tags=request.tags)
        assert result.success
        assert {quiet_sim.tenant(TENANT).state_of(i) for i in ids} <= {"stopping", "stopped"}
        rows = runtime.store.stop_records(TENANT)
        assert len(rows) == RUNS  # the batch finished the sensor's rows, added none
        assert {r.result for r in rows} == {StopResult.STOPPED}
        assert {r.requested_by for r in rows} == {"sensor amperity_workflow_sla_sensor"}
        [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
        summary = output.event_specific_data.metadata["summary"].value  # type: ignore[union-attr]
        assert all(f"`{i}`" in summary for i in ids)
        assert "**stopped**" in summary

        clock.advance(timedelta(minutes=1))
        assert not _tick(runtime, instance).run_requests  # nothing left to stop
    runtime.close()


def test_a_lost_batch_is_asked_for_again_under_the_same_key(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """A batch whose RunRequest never became a run: its stops are asked for once more."""
    runtime = _runtime(quiet_sim, clock, store_url)
    _breached(quiet_sim)
    with DagsterInstance.ephemeral() as instance:
        [first] = _tick(runtime, instance).run_requests or []  # never launched: "lost"
        clock.advance(timedelta(minutes=1))
        assert not _tick(runtime, instance).run_requests  # still within LOST_STOP_AFTER
        clock.advance(LOST_STOP_AFTER)
        [again] = _tick(runtime, instance).run_requests or []
        assert again.run_key == first.run_key  # the same stops, the same batch
        assert again.run_config == first.run_config
        rows = runtime.store.stop_records(TENANT)
        assert {r.launched_as for r in rows} == {first.run_key}
        assert all(r.detail and r.detail.startswith("requested again") for r in rows)
        clock.advance(LOST_STOP_AFTER)
        assert not _tick(runtime, instance).run_requests  # asked again once, never twice
    runtime.close()


def test_a_stop_that_did_not_take_in_a_batch_fails_the_run_and_is_retried_alone(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """One stop refused by Amperity: the others stop, the run fails naming it, attempt 2 alone."""
    runtime = _runtime(quiet_sim, clock, store_url)
    ids = _breached(quiet_sim)
    stubborn = ids[0]
    quiet_sim.set_faults(TENANT, Faults(server_error_rate=1.0,
                                        only_paths=(f"/workflow/runs/{stubborn}/stop",)))
    with DagsterInstance.ephemeral() as instance:
        [request] = _tick(runtime, instance).run_requests or []
        result = stop_amperity_workflow_runs.execute_in_process(
            run_config=request.run_config, resources={"amperity_ops": runtime},
            instance=instance, raise_on_error=False,
            tags={**request.tags, "dagster/run_key": str(request.run_key)})  # as the daemon
        assert not result.success
        [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        message = str(failure.event_specific_data.error_display_string)  # type: ignore[union-attr]
        assert f"1 of {RUNS} stops did not take" in message
        assert stubborn in message
        by_id = {r.workflow_id: r.result for r in runtime.store.stop_records(TENANT)}
        assert by_id.pop(stubborn) in (StopResult.FAILED, StopResult.OUTCOME_UNKNOWN)
        assert set(by_id.values()) == {StopResult.STOPPED}

        quiet_sim.set_faults(TENANT, Faults())
        clock.advance(RETRY_BACKOFF[0] + timedelta(minutes=1))
        [retry] = _tick(runtime, instance).run_requests or []
        assert retry.run_key == f"stop:{TENANT}:{stubborn}:2"  # alone, the stop job's
        assert retry.job_name == "stop_amperity_workflow_run"
    runtime.close()


@pytest.mark.parametrize(("auto_stop", "jobs"), [
    ({"batch_above": 100}, ["stop_amperity_workflow_run"] * 3),  # never batched
    ({"batch_above": 0, "batch_size": 2}, ["stop_amperity_workflow_runs"] * 2),  # 2 + 1
])
def test_the_policy_file_says_when_stops_are_batched(
    quiet_sim: Simulator, clock: ManualClock, store_url: str, auto_stop: dict[str, int],
    jobs: list[str],
) -> None:
    """auto_stop.batch_above and batch_size decide single runs or batches, and their size."""
    runtime = make_runtime(quiet_sim, clock, store_url, make_config(
        auto_stop={"max_stops_per_hour": 100, **auto_stop}))
    _breached(quiet_sim, 3)
    with DagsterInstance.ephemeral() as instance:
        requests = _tick(runtime, instance).run_requests or []
    assert sorted(r.job_name for r in requests) == jobs
    runtime.close()
