"""The stop service over the simulator: re-read, stop only what runs, wait, record."""

from __future__ import annotations

from datetime import timedelta

import pytest

from amperity_ops.client import WorkflowRun
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.stop import StopResult, stop_workflow_run
from amperity_ops.simulator import Simulator
from amperity_ops_tests.services.helpers import TENANT


def _stop(runtime: OpsRuntime, workflow_id: str, **kwargs: object):
    with runtime.client(TENANT) as client:
        return stop_workflow_run(
            client,
            runtime.store,
            tenant=TENANT,
            workflow_id=workflow_id,
            reason=str(kwargs.pop("reason", "too slow")),
            requested_by="tester",
            clock=runtime.clock,
            sleep=runtime.sleep,
            **kwargs,  # type: ignore[arg-type]
        )


def _stop_posts(sim: Simulator) -> int:
    return sum(
        1
        for e in sim.request_log(TENANT).entries()
        if e.method == "POST" and e.path.endswith("/stop")
    )


def test_running_run_is_stopped_waited_for_and_recorded(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """A running run gets one stop, is polled until stopped, and the ledger says who and why."""
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    outcome = _stop(runtime, run.id, poll_interval=timedelta(seconds=10))
    assert outcome.result is StopResult.STOPPED
    assert (outcome.state_before, outcome.state_after) == ("running", "stopped")
    assert outcome.succeeded
    assert outcome.stop_sent_at is not None
    assert outcome.polls >= 3
    assert quiet_sim.tenant(TENANT).state_of(run.id) == "stopped"
    assert _stop_posts(quiet_sim) == 1
    [record] = runtime.store.stop_records(TENANT)
    assert (record.workflow_id, record.requested_by, record.reason) == (
        run.id,
        "tester",
        "too slow",
    )
    assert (record.result, record.state_before, record.state_after) == (
        "stopped",
        "running",
        "stopped",
    )


def test_finished_run_is_not_stopped(runtime: OpsRuntime, quiet_sim: Simulator) -> None:
    """A run that already ended is reported as not running; no stop is sent."""
    run = quiet_sim.tenant(TENANT).add_run(state="succeeded", started_ago=timedelta(hours=1))
    outcome = _stop(runtime, run.id)
    assert outcome.result is StopResult.NOT_RUNNING
    assert outcome.succeeded
    assert "not running" in outcome.message
    assert _stop_posts(quiet_sim) == 0
    assert runtime.store.stop_records(TENANT)[0].result == "not_running"


def test_vanished_run_is_reported(runtime: OpsRuntime, quiet_sim: Simulator) -> None:
    """A run the API does not know (404) is reported as vanished, not raised."""
    outcome = _stop(runtime, "wf-20261101-00000-NOPE00")
    assert outcome.result is StopResult.NOT_FOUND
    assert outcome.succeeded
    assert outcome.state_before is None
    assert "404" in outcome.message
    assert runtime.store.stop_records(TENANT)[0].result == "vanished"


def test_unknown_state_is_never_stopped(runtime: OpsRuntime, quiet_sim: Simulator) -> None:
    """A state we do not recognise is left alone, whoever asks."""
    run = quiet_sim.tenant(TENANT).add_run(state="Quiescing", started_ago=timedelta(hours=5))
    outcome = _stop(runtime, run.id)
    assert outcome.result is StopResult.UNKNOWN_STATE
    assert _stop_posts(quiet_sim) == 0
    assert quiet_sim.tenant(TENANT).state_of(run.id) == "quiescing"


def test_dry_run_sends_nothing_and_is_noted_without_blocking_a_real_stop(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """A dry run sends nothing and is noted as such; the real stop afterwards still happens."""
    run = quiet_sim.tenant(TENANT).add_run(started_ago=timedelta(hours=3))
    outcome = _stop(runtime, run.id, dry_run=True)
    assert outcome.result is StopResult.DRY_RUN
    assert "would stop" in outcome.message
    assert _stop_posts(quiet_sim) == 0
    [note] = runtime.store.stop_records(TENANT)
    assert (note.dry_run, note.result, note.requested_by) == (True, "dry_run", "tester")
    assert not runtime.store.stop_requested(TENANT, run.id)
    assert runtime.store.stops_since(TENANT, runtime.clock() - timedelta(hours=1)) == 0
    real = _stop(runtime, run.id)
    assert real.result is StopResult.STOPPED
    assert _stop_posts(quiet_sim) == 1


def test_vanished_run_is_marked_in_the_store(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """A run the store holds as active that answers 404 is marked vanished, not active."""
    ghost = WorkflowRun.model_validate(
        {
            "id": "wf-20261031-00001-GHOST1",
            "state": "running",
            "type": "courier.group/run",
            "name": "Ghost",
            "tenant": TENANT,
            "created_at": (runtime.clock() - timedelta(hours=3)).isoformat(),
        }
    )
    runtime.store.upsert_runs(TENANT, [ghost], seen_at=runtime.clock())
    outcome = _stop(runtime, ghost.id)
    assert outcome.result is StopResult.NOT_FOUND
    assert runtime.store.vanished_run_ids(TENANT) == {ghost.id}
    assert runtime.store.active_runs(TENANT) == []
    assert runtime.store.stop_records(TENANT)[0].result == "vanished"
    assert _stop_posts(quiet_sim) == 0


def test_timeout_when_the_run_keeps_stopping(runtime: OpsRuntime, quiet_sim: Simulator) -> None:
    """A run still stopping at the timeout is reported as such (and is not a success)."""
    run = quiet_sim.tenant(TENANT).add_run(started_ago=timedelta(hours=3))
    outcome = _stop(
        runtime, run.id, wait_timeout=timedelta(seconds=20), poll_interval=timedelta(seconds=5)
    )
    assert outcome.result is StopResult.STILL_STOPPING
    assert not outcome.succeeded
    assert outcome.state_after == "stopping"
    assert runtime.store.stop_records(TENANT)[0].result == "timeout"


def test_reason_is_required(runtime: OpsRuntime) -> None:
    """An empty reason is refused before anything is read or sent."""
    with pytest.raises(ValueError, match="reason"):
        _stop(runtime, "wf-1", reason="  ")


def test_stop_finishes_the_sensors_pending_ledger_row(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """The stop job carrying out the sensor's request completes its row, adding none."""
    run = quiet_sim.tenant(TENANT).add_run(started_ago=timedelta(hours=3))
    now = runtime.clock()
    runtime.store.record_stop(
        run_key=f"stop:{TENANT}:{run.id}",
        tenant=TENANT,
        workflow_id=run.id,
        requested_by="sensor amperity_workflow_sla_sensor",
        reason="SLA policy p: runtime 3h over max 2h",
        dry_run=False,
        requested_at=now,
    )
    with runtime.client(TENANT) as client:
        stop_workflow_run(
            client,
            runtime.store,
            tenant=TENANT,
            workflow_id=run.id,
            reason="SLA policy p: runtime 3h over max 2h",
            requested_by="sensor amperity_workflow_sla_sensor",
            clock=runtime.clock,
            sleep=runtime.sleep,
        )
    [record] = runtime.store.stop_records(TENANT)
    assert (record.result, record.state_before, record.state_after) == (
        "stopped",
        "running",
        "stopped",
    )
