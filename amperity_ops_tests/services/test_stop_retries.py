"""A stop that did not happen is retried, bounded: the SLA tick and the stop job, simulated."""

from __future__ import annotations

from datetime import timedelta

from amperity_ops.core import Requester, StopResult
from amperity_ops.monitoring.stop_retry import RETRY_BACKOFF, JobState, attempt_run_key
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.sla_guard import SlaTickResult, run_sla_tick
from amperity_ops.services.stop import stop_with_runtime
from amperity_ops.simulator import Faults, ManualClock, Simulator
from amperity_ops_tests.services.helpers import TENANT


def _tick(runtime: OpsRuntime, state: JobState) -> SlaTickResult:
    return run_sla_tick(runtime, now=runtime.clock(), budget_s=30.0, deliver=False,
                        job_state=lambda _key: state)


def _breached_run(sim: Simulator) -> str:
    return sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3)).id


def _keys(result: SlaTickResult) -> list[str]:
    return [s.run_key for s in result.stop_requests]


def test_a_killed_stop_job_is_completed_and_retried_with_a_new_key(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """Killed job: the row ends ``killed``; after the backoff, attempt 2 under ``...:2``."""
    run_id = _breached_run(quiet_sim)
    assert _keys(_tick(runtime, JobState.IN_FLIGHT)) == [attempt_run_key(TENANT, run_id, 1)]
    clock.advance(timedelta(minutes=1))
    waiting = _tick(runtime, JobState.CANCELED)  # Dagster ended the dead run
    assert waiting.stop_requests == []
    [row] = runtime.store.stop_records(TENANT)
    assert row.result is StopResult.KILLED
    assert row.finished_at is not None
    clock.advance(RETRY_BACKOFF[0])
    again = _tick(runtime, JobState.IN_FLIGHT)
    assert _keys(again) == [attempt_run_key(TENANT, run_id, 2)]
    assert "attempt 2 of 3" in again.summary()
    assert next(r.run_key for r in runtime.store.stop_records(TENANT)).endswith(":2")


def test_a_stop_amperity_applied_is_never_sent_again(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """The job died after its POST took: the row is completed, the run is not stopped twice."""
    run_id = _breached_run(quiet_sim)
    _tick(runtime, JobState.IN_FLIGHT)
    quiet_sim.tenant(TENANT).stop_run(run_id)  # the POST left and Amperity applied it
    clock.advance(RETRY_BACKOFF[0] + timedelta(minutes=1))
    for _ in range(3):
        assert _tick(runtime, JobState.CANCELED).stop_requests == []
        clock.advance(RETRY_BACKOFF[-1])
    [row] = runtime.store.stop_records(TENANT)
    assert row.result is StopResult.KILLED


def test_three_attempts_then_one_give_up_alert(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """Each attempt fails; the third is the last; one STOP GAVE UP alert, no fourth request."""
    run_id = _breached_run(quiet_sim)
    sent: list[str] = []
    for _ in range(6):
        sent += _keys(_tick(runtime, JobState.FAILED))
        clock.advance(RETRY_BACKOFF[-1])
    assert sent == [attempt_run_key(TENANT, run_id, n) for n in (1, 2, 3)]
    results = [r.result for r in runtime.store.stop_records(TENANT)]
    assert results == [StopResult.FAILED] * 3
    gave_up = [i.message for i in runtime.store.outbox_items() if "GAVE UP" in i.message.title]
    assert len(gave_up) == 1
    assert gave_up[0].workflow_id == run_id


def test_a_stop_storm_ends_failed_with_request_ids_never_stopped(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """500 on every stop: the job's outcome and the ledger say ``failed``, with the ids."""
    run_id = _breached_run(quiet_sim)
    quiet_sim.set_faults(TENANT, Faults(server_error_rate=1.0,
                                        only_paths=(f"/workflow/runs/{run_id}/stop",)))
    with runtime.client(TENANT) as client:
        outcome = stop_with_runtime(runtime, client, tenant=TENANT, workflow_id=run_id,
                                    reason="test", requester=Requester.cli("alice"))
    assert outcome.result is StopResult.FAILED
    assert not outcome.succeeded
    assert "request ids:" in outcome.message, outcome.message
    assert quiet_sim.request_log(TENANT).count(f"/api/workflow/runs/{run_id}/stop") == 3
    [row] = runtime.store.stop_records(TENANT)
    assert row.result is StopResult.FAILED
    assert "request ids:" in (row.detail or "")
