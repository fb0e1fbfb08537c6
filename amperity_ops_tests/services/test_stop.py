"""The stop service over the simulator: re-read, stop only what runs, wait, record."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from amperity_ops.client import AmperityClient, WorkflowRun
from amperity_ops.core import Requester
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.stop import StopOutcome, StopResult, stop_workflow_run
from amperity_ops.simulator import IN_PROCESS_BASE_URL, ManualClock, Simulator, TenantSpec
from amperity_ops_tests.services.helpers import (
    TENANT,
    TOKEN,
    make_runtime,
    remember_ghost_run,
    sqlite_url,
)

TESTER = Requester.person("tester")


@pytest.fixture
def runtime(runtime: OpsRuntime, clock: ManualClock) -> OpsRuntime:
    """The services' runtime whose monotonic clock moves with the simulated sleep (1:1)."""
    runtime.monotonic = lambda: clock.now().timestamp()
    return runtime


def _stop(runtime: OpsRuntime, workflow_id: str, **kwargs: object):
    with runtime.client(TENANT) as client:
        return stop_workflow_run(
            client,
            runtime.store,
            tenant=TENANT,
            workflow_id=workflow_id,
            reason=str(kwargs.pop("reason", "too slow")),
            requester=TESTER,
            clock=runtime.clock,
            sleep=runtime.sleep,
            monotonic=runtime.monotonic,
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
    """A run that already ended is reported as not running ("already ended"); no stop is sent."""
    run = quiet_sim.tenant(TENANT).add_run(state="succeeded", started_ago=timedelta(hours=1))
    outcome = _stop(runtime, run.id)
    assert outcome.result is StopResult.NOT_RUNNING
    assert outcome.succeeded
    assert outcome.message.endswith(" already ended (succeeded): nothing to stop")
    assert _stop_posts(quiet_sim) == 0
    assert runtime.store.stop_records(TENANT)[0].result == "not_running"


def test_unknown_id_is_not_found_fails_and_leaves_no_trace(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """A 404 on the first read of an id nobody knew: not_found, not a success, nothing recorded."""
    outcome = _stop(runtime, "wf-20261101-00000-NOPE00")
    assert outcome.result is StopResult.NOT_FOUND
    assert outcome.result.value == "not_found"
    assert not outcome.succeeded
    assert outcome.state_before is None
    assert outcome.message == (
        "wf-20261101-00000-NOPE00 does not exist in tenant acme (404): check the id; "
        "nothing was stopped"
    )
    assert runtime.store.stop_records(TENANT) == []  # a typo does not count as a stop
    assert runtime.store.vanished_run_ids(TENANT) == set()
    assert _stop_posts(quiet_sim) == 0


def test_not_found_finishes_the_sensors_pending_row_as_not_found(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """A 404 for a run the sensor had asked to stop finishes its ledger row as not_found."""
    sensor = "sensor amperity_workflow_sla_sensor"
    runtime.store.record_stop(
        run_key=f"stop:{TENANT}:wf-20261101-00000-NOPE00",
        tenant=TENANT,
        workflow_id="wf-20261101-00000-NOPE00",
        requested_by=sensor,
        reason="SLA policy p: runtime 3h over max 2h",
        dry_run=False,
        requested_at=runtime.clock(),
    )
    with runtime.client(TENANT) as client:
        outcome = stop_workflow_run(
            client, runtime.store, tenant=TENANT, workflow_id="wf-20261101-00000-NOPE00",
            reason="SLA policy p: runtime 3h over max 2h", requester=Requester.from_text(sensor),
            clock=runtime.clock, sleep=runtime.sleep, monotonic=runtime.monotonic,
        )
    assert outcome.result is StopResult.NOT_FOUND
    [record] = runtime.store.stop_records(TENANT)
    assert (record.result, record.requested_by) == ("not_found", sensor)
    assert "does not exist" in (record.detail or "")


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
    """A run the store knew that answers 404 is vanished (a success), marked so in the store."""
    ghost = remember_ghost_run(runtime)
    outcome = _stop(runtime, ghost.id)
    assert outcome.result is StopResult.VANISHED
    assert outcome.succeeded
    assert outcome.workflow_name == "Ghost"
    assert "vanished" in outcome.message
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
    assert outcome.message.endswith("still stopping after 20 s")
    assert runtime.store.stop_records(TENANT)[0].result == "timeout"


def test_reason_is_required(runtime: OpsRuntime, quiet_sim: Simulator) -> None:
    """An empty reason is refused before anything is read or sent."""
    with pytest.raises(ValueError, match="reason"):
        _stop(runtime, "wf-1", reason="  ")
    assert quiet_sim.request_log(TENANT).total == 0


def test_invalid_workflow_id_is_refused_before_any_request(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """An id that could address another resource is refused, naming workflow_id and the id."""
    with pytest.raises(ValueError, match=r"workflow_id 'wf/\.\./x' is not a valid id"):
        _stop(runtime, "wf/../x")
    assert quiet_sim.request_log(TENANT).total == 0
    assert runtime.store.stop_records(TENANT) == []


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
            requester=Requester.sensor("amperity_workflow_sla_sensor"),
            clock=runtime.clock,
            sleep=runtime.sleep,
        )
    [record] = runtime.store.stop_records(TENANT)
    assert (record.result, record.state_before, record.state_after) == (
        "stopped",
        "running",
        "stopped",
    )


def test_a_renamed_sensor_finishes_the_row_its_old_name_recorded(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """The sensor's pending row is found by requester kind, so a sensor rename adds no row."""
    run = quiet_sim.tenant(TENANT).add_run(started_ago=timedelta(hours=3))
    old_name = Requester.sensor("amperity_workflow_sla_sensor")
    runtime.store.record_stop(
        run_key=f"stop:{TENANT}:{run.id}", tenant=TENANT, workflow_id=run.id,
        requested_by=old_name.label, requester=old_name,
        reason="SLA policy p: runtime 3h over max 2h", dry_run=False,
        requested_at=runtime.clock(),
    )
    with runtime.client(TENANT) as client:
        stop_workflow_run(
            client, runtime.store, tenant=TENANT, workflow_id=run.id,
            reason="SLA policy p: runtime 3h over max 2h",
            requester=Requester.sensor("renamed_sla_sensor"),
            clock=runtime.clock, sleep=runtime.sleep, monotonic=runtime.monotonic,
        )
    [record] = runtime.store.stop_records(TENANT)
    assert (record.result, record.requested_by) == (
        StopResult.STOPPED, "sensor amperity_workflow_sla_sensor")
    assert record.requester == old_name


class _FastSlaClock:
    """The demo's clocks: the SLA clock runs 30x faster than real (monotonic) time."""

    def __init__(self, clock: ManualClock, speed: float = 30.0) -> None:
        self.clock, self.speed, self.real = clock, speed, 0.0

    def sleep(self, seconds: float) -> None:
        self.real += seconds
        self.clock.advance(timedelta(seconds=seconds * self.speed))

    def monotonic(self) -> float:
        return self.real


def _stop_on_fast_clock(
    tmp_path: Path, stop_delay: timedelta, **kwargs: object
) -> tuple[StopOutcome, ManualClock]:
    clock = ManualClock()
    spec = TenantSpec(tenant_id=TENANT, static_tokens=(TOKEN,), schedules=False,
                      stop_delay=stop_delay)
    sim = Simulator([spec], clock=clock, rate_limit_rps=None)
    runtime = make_runtime(sim, clock, sqlite_url(tmp_path))
    fast = _FastSlaClock(clock)
    run = sim.tenant(TENANT).add_run(started_ago=timedelta(hours=3))
    with runtime.client(TENANT) as client:
        outcome = stop_workflow_run(
            client, runtime.store, tenant=TENANT, workflow_id=run.id, reason="slow",
            requester=TESTER, clock=clock.now, sleep=fast.sleep, monotonic=fast.monotonic,
            **kwargs,  # type: ignore[arg-type]
        )
    return outcome, clock


def test_waited_is_real_seconds_not_the_sla_clock(tmp_path: Path) -> None:
    """With the SLA clock at 30x, a stop seen after one 5 s re-read says 5.0 s, not 150 s."""
    outcome, _ = _stop_on_fast_clock(
        tmp_path, timedelta(seconds=30), poll_interval=timedelta(seconds=5)
    )
    assert outcome.result is StopResult.STOPPED
    assert outcome.elapsed_seconds == pytest.approx(5.0)
    assert outcome.waited == "5.0 s (1 re-read)"
    assert outcome.as_metadata()["elapsed_seconds"] == pytest.approx(5.0)
    assert outcome.finished_at - outcome.started_at == timedelta(seconds=150)  # SLA clock


def test_wait_timeout_is_real_seconds_not_the_sla_clock(tmp_path: Path) -> None:
    """A 20 s timeout waits 20 real seconds (4 re-reads at 5 s) though 600 SLA seconds pass."""
    outcome, _ = _stop_on_fast_clock(
        tmp_path,
        timedelta(hours=1),
        wait_timeout=timedelta(seconds=20),
        poll_interval=timedelta(seconds=5),
    )
    assert outcome.result is StopResult.STILL_STOPPING
    assert outcome.polls == 4
    assert outcome.elapsed_seconds == pytest.approx(20.0)
    assert outcome.message.endswith("after 20 s")


def _outcome(**overrides: object) -> StopOutcome:
    at = ManualClock().now()
    values: dict[str, object] = {
        "tenant": TENANT,
        "workflow_id": "wf-1",
        "reason": "too slow",
        "requested_by": "tester",
        "dry_run": False,
        "result": StopResult.STOPPED,
        "message": "stopped wf-1 (Daily): running -> stopped",
        "state_before": "running",
        "state_after": "stopped",
        "started_at": at,
        "finished_at": at,
        "workflow_name": "Daily",
        "polls": 1,
        "elapsed_seconds": 10.06,
    }
    return StopOutcome(**(values | overrides))  # type: ignore[arg-type]


def test_waited_says_re_read_once_and_re_reads_otherwise() -> None:
    """One re-read is singular; zero or several are plural."""
    assert _outcome(polls=1).waited == "10.1 s (1 re-read)"
    assert _outcome(polls=0).waited == "10.1 s (0 re-reads)"
    assert _outcome(polls=3).waited == "10.1 s (3 re-reads)"


def test_one_line_says_what_how_long_why_and_who() -> None:
    """The log line names run, states, real duration, reason and requester in one sentence."""
    assert _outcome().one_line() == (
        "stopped wf-1 (Daily) running -> stopped in 10.1 s; reason too slow; requested by tester"
    )
    missing = _outcome(result=StopResult.NOT_FOUND, message="wf-1 does not exist", polls=0)
    assert missing.one_line() == "wf-1 does not exist; reason too slow; requested by tester"


class _GoneAfterStop(httpx.BaseTransport):
    """The simulator, except that the run answers 404 once its stop was sent (it was deleted)."""

    def __init__(self, inner: httpx.BaseTransport, run_id: str) -> None:
        self.inner, self.run_id, self.stop_sent = inner, run_id, False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.stop_sent and request.method == "GET" and self.run_id in request.url.path:
            return httpx.Response(404, json={"message": "not found"}, request=request)
        response = self.inner.handle_request(request)
        self.stop_sent |= request.method == "POST" and request.url.path.endswith("/stop")
        return response


def test_run_that_disappears_while_stopping_is_vanished(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """A run read and stopped that then answers 404 vanished: a success, marked in the store."""
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    seen = WorkflowRun.model_validate(quiet_sim.tenant(TENANT).run_json(run.id))
    runtime.store.upsert_runs(TENANT, [seen], seen_at=clock.now())
    transport = _GoneAfterStop(quiet_sim.transport(), run.id)
    with AmperityClient(TENANT, base_url=IN_PROCESS_BASE_URL, access_token=TOKEN,
                        transport=transport, rate_limit_rps=None, clock=clock.now) as client:
        outcome = stop_workflow_run(
            client, runtime.store, tenant=TENANT, workflow_id=run.id, reason="too slow",
            requester=TESTER, clock=runtime.clock, sleep=runtime.sleep,
            monotonic=runtime.monotonic,
        )
    assert outcome.result is StopResult.VANISHED
    assert outcome.succeeded
    assert outcome.message == f"{run.id} (Courier Group A) vanished (404) while stopping"
    assert (outcome.state_before, outcome.polls) == ("running", 1)
    assert runtime.store.vanished_run_ids(TENANT) == {run.id}
    assert runtime.store.stop_records(TENANT)[0].result == "vanished"
