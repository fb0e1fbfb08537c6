"""The stop job in a stop storm: it fails with one sentence carrying Amperity's request ids."""

from __future__ import annotations

from datetime import timedelta

from dagster import DagsterInstance

from amperity_ops.core import StopResult
from amperity_ops.defs.jobs import stop_amperity_workflow_run
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.simulator import Faults, Simulator
from amperity_ops_tests.services.helpers import TENANT


def test_stop_storm_fails_the_job_with_request_ids_and_never_says_stopped(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """500 on every stop: 3 POSTs, a Failure naming the request ids, the ledger says failed."""
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    stop_path = f"/workflow/runs/{run.id}/stop"
    quiet_sim.set_faults(TENANT, Faults(server_error_rate=1.0, only_paths=(stop_path,)))
    result = stop_amperity_workflow_run.execute_in_process(
        run_config={"ops": {"stop_workflow_run": {"config": {
            "workflow_id": run.id, "reason": "stuck", "requested_by": "alice"}}}},
        resources={"amperity_ops": runtime}, instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    [event] = result.get_step_failure_events()
    failure = event.step_failure_data.user_failure_data
    assert failure.description.startswith(f"the stop of {run.id} (Courier Group A) did not take")
    assert "sent 3 time(s)" in failure.description
    assert "request ids: " in failure.description
    assert "\n" not in failure.description
    assert quiet_sim.request_log(TENANT).count(f"/api{stop_path}", method="POST") == 3
    [row] = runtime.store.stop_records(TENANT)
    assert row.result is StopResult.FAILED
