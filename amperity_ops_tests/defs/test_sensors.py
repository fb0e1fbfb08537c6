"""The SLA and ingest sensors, evaluated with build_sensor_context over the simulator.

``evaluate_tick``-style calls do not de-duplicate run keys (only the daemon does), so these
tests check the keys and the stop ledger themselves.
"""

from __future__ import annotations

from datetime import timedelta

from dagster import DagsterInstance, SensorResult, SkipReason, build_sensor_context

from amperity_ops.defs.jobs import stop_amperity_workflow_run, stop_run_config
from amperity_ops.defs.sensors import (
    SensorCursor,
    amperity_ingest_sensor,
    amperity_workflow_sla_sensor,
    silence_owners_beta_warning,
)
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops_tests.services.helpers import TENANT, make_config, make_runtime


def _evaluate(runtime: OpsRuntime, cursor: str | None = None) -> SensorResult:
    with build_sensor_context(cursor=cursor, resources={"amperity_ops": runtime}) as context:
        result = amperity_workflow_sla_sensor(context)
    assert isinstance(result, SensorResult)
    return result


def test_two_ticks_request_one_stop_with_the_stop_job_config(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """A breach yields one RunRequest for the stop job; the next tick yields none."""
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    first = _evaluate(runtime)
    [request] = first.run_requests or []
    assert request.run_key == f"stop:{TENANT}:{run.id}"
    assert request.job_name == "stop_amperity_workflow_run"
    config = request.run_config["ops"]["stop_workflow_run"]["config"]
    assert config == {
        "workflow_id": run.id,
        "reason": "SLA policy courier-groups: runtime 3h 00m over max 2h 00m",
        "tenant": TENANT,
        "dry_run": False,
        "requested_by": "sensor amperity_workflow_sla_sensor",
    }
    assert request.tags["amperity-ops/requested-by"] == "sensor amperity_workflow_sla_sensor"
    cursor = SensorCursor.model_validate_json(first.cursor or "")
    assert cursor.ticks == 1
    assert cursor.last_tick_at == clock.now()

    clock.advance(timedelta(minutes=1))
    second = _evaluate(runtime, first.cursor)
    assert not second.run_requests
    assert isinstance(second.skip_reason, SkipReason)
    assert [r.workflow_id for r in runtime.store.stop_records(TENANT)] == [run.id]


def test_nothing_to_do_says_what_it_looked_at(runtime: OpsRuntime, quiet_sim: Simulator) -> None:
    """With only healthy runs the SkipReason counts what was looked at and the requests made."""
    quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(minutes=5))
    result = _evaluate(runtime)
    assert not result.run_requests
    text = result.skip_reason.skip_message if result.skip_reason else ""
    assert "acme: looked at 1 active run(s), 1 with an SLA" in text
    assert "nothing to alert or stop" in text
    assert "2 API request(s)" in text


def test_dry_run_skip_reason_says_what_would_have_been_stopped(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """In dry run the tick requests nothing and its SkipReason names the run it would stop."""
    runtime = make_runtime(quiet_sim, clock, store_url, make_config(auto_stop={"dry_run": True}))
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    result = _evaluate(runtime)
    assert not result.run_requests
    text = result.skip_reason.skip_message if result.skip_reason else ""
    assert f"DRY RUN: would have stopped Courier Group A ({run.id})" in text


def test_unreadable_cursor_starts_fresh(runtime: OpsRuntime, quiet_sim: Simulator) -> None:
    """A cursor that is not ours is replaced by a fresh one; the store still prevents repeats."""
    quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    first = _evaluate(runtime, cursor="{not json")
    assert len(first.run_requests or []) == 1
    assert SensorCursor.model_validate_json(first.cursor or "").ticks == 1
    again = _evaluate(runtime, cursor='{"version": 1, "surprise": true}')
    assert not again.run_requests


def test_ingest_sensor_alerts_once_per_unhealthy_job(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """A failed run's ingest job is alerted on once; the next tick says no new alerts."""
    job = quiet_sim.tenant(TENANT).add_ingest_job(tables=("Orders",))
    feed = job.feeds[0]
    feed.read, feed.errors, feed.rejected = 1_000, 200, 0  # 20 % errors: over the 1 % line
    clock.advance(timedelta(minutes=1))
    with build_sensor_context(resources={"amperity_ops": runtime}) as context:
        first = amperity_ingest_sensor(context)
    assert isinstance(first, SkipReason)
    items = [i for i in runtime.store.outbox_items() if i.message.level.value == "ingest"]
    assert "1 new alert(s)" in (first.skip_message or ""), first.skip_message
    assert len(items) == 1
    clock.advance(timedelta(minutes=2))
    with build_sensor_context(resources={"amperity_ops": runtime}) as context:
        second = amperity_ingest_sensor(context)
    assert "no new alerts" in (second.skip_message or "")
    assert len([i for i in runtime.store.outbox_items() if i.message.level.value == "ingest"]) == 1


def test_sla_sensor_over_a_real_socket(
    sim: Simulator, sim_server: str, clock: ManualClock, store_url: str
) -> None:
    """The same tick over HTTP (uvicorn on a free port): one stop requested, two requests."""
    from amperity_ops.testing import simulator_client_factory
    from amperity_ops_tests.services.helpers import TOKEN

    runtime = make_runtime(sim, clock, store_url)
    runtime.client_factory = simulator_client_factory(clock, token=TOKEN, base_url=sim_server)
    run = sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    sim.request_log(TENANT).reset()
    result = _evaluate(runtime)
    assert [r.run_key for r in result.run_requests or []] == [f"stop:{TENANT}:{run.id}"]
    assert sim.request_log(TENANT).total == 2


def test_ingest_sensor_alerts_on_a_failed_feed_and_a_reject_rate(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """A failed feed and a reject rate over 5 % each raise one ingest alert; a clean job none."""
    world = quiet_sim.tenant(TENANT)
    failed = world.add_ingest_job(tables=("Orders",))
    failed.feeds[0].state = "failed"
    failed.feeds[0].read, failed.feeds[0].errors, failed.feeds[0].rejected = 1_000, 0, 0
    rejecting = world.add_ingest_job(tables=("Customers",))
    feed = rejecting.feeds[0]
    feed.read, feed.errors, feed.rejected = 1_000, 0, 80  # 8 % rejected: over the 5 % line
    clean = world.add_ingest_job(tables=("Products",))
    clean.feeds[0].read, clean.feeds[0].errors, clean.feeds[0].rejected = 1_000, 0, 0
    clock.advance(timedelta(minutes=1))
    with build_sensor_context(resources={"amperity_ops": runtime}) as context:
        result = amperity_ingest_sensor(context)
    assert isinstance(result, SkipReason)
    assert "2 unhealthy" in (result.skip_message or ""), result.skip_message
    items = [i.message for i in runtime.store.outbox_items() if i.message.level.value == "ingest"]
    assert sorted(m.workflow_id for m in items) == sorted([failed.id, rejecting.id])
    texts = {m.workflow_id: m.title + " " + m.text for m in items}
    assert "Orders: feed failed" in texts[failed.id]
    assert "Customers: 8.00% rejected > 5.00% (80 of 1,000 rows)" in texts[rejecting.id]


def test_a_longer_sensor_interval_is_honoured_from_the_policy_file(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """With sensor.interval 5m, an evaluation 1 minute later reads nothing and says why."""
    runtime = make_runtime(quiet_sim, clock, store_url, make_config(sensor={"interval": "5m"}))
    quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(minutes=5))
    first = _evaluate(runtime)
    clock.advance(timedelta(minutes=1))
    quiet_sim.request_log(TENANT).reset()
    early = _evaluate(runtime, first.cursor)
    assert quiet_sim.request_log(TENANT).total == 0
    assert early.cursor == first.cursor
    text = early.skip_reason.skip_message if early.skip_reason else ""
    assert "waiting: sensor.interval is 5m" in text, text
    clock.advance(timedelta(minutes=4))
    due = _evaluate(runtime, early.cursor)
    assert quiet_sim.request_log(TENANT).total == 2
    assert SensorCursor.model_validate_json(due.cursor or "").ticks == 2


def test_a_cursor_from_the_future_does_not_stall_the_sensor() -> None:
    """A last tick later than now (the clock changed) counts as due, never as waiting."""
    from amperity_ops.defs.sensors import not_due_yet

    now = ManualClock().now()
    future = SensorCursor(last_tick_at=now + timedelta(days=3))
    assert not_due_yet(future, now, timedelta(minutes=5)) is None
    recent = SensorCursor(last_tick_at=now - timedelta(minutes=1))
    assert not_due_yet(recent, now, timedelta(minutes=5)) is not None
    assert not_due_yet(recent, now, timedelta(seconds=60)) is None  # 5 s of slack


def _stop_with_key(runtime: OpsRuntime, instance: DagsterInstance, run_key: str, wf: str) -> None:
    """A stop job run carrying the sensor's run key (a dry run: the ledger row stays open)."""
    stop_amperity_workflow_run.execute_in_process(
        run_config=stop_run_config(workflow_id=wf, reason="r", tenant=TENANT,
                                   requested_by="tester", dry_run=True),
        resources={"amperity_ops": runtime}, instance=instance,
        tags={"dagster/run_key": run_key},
    )


def test_a_recorded_stop_that_never_became_a_run_is_requested_once_more(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """No run with the stop's key 10 min later: the same key is asked again, once; never twice."""
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    instance = DagsterInstance.ephemeral()
    with build_sensor_context(resources={"amperity_ops": runtime}, instance=instance) as context:
        first = amperity_workflow_sla_sensor(context)
    [lost] = first.run_requests or []  # say this tick's result never reached the daemon
    cursor = first.cursor
    keys = []
    for minutes in (5, 6, 20):  # 5, 11 and 31 minutes after the request
        clock.advance(timedelta(minutes=minutes))
        with build_sensor_context(cursor=cursor, resources={"amperity_ops": runtime},
                                  instance=instance) as context:
            result = amperity_workflow_sla_sensor(context)
        cursor = result.cursor
        keys.append([r.run_key for r in result.run_requests or []])
    assert keys == [[], [lost.run_key], []]
    assert lost.run_key == f"stop:{TENANT}:{run.id}"


def test_a_recorded_stop_whose_job_exists_is_not_requested_again(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """A stop job run with the key exists (queued, still waiting): nothing is asked again."""
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    instance = DagsterInstance.ephemeral()
    with build_sensor_context(resources={"amperity_ops": runtime}, instance=instance) as context:
        first = amperity_workflow_sla_sensor(context)
    [request] = first.run_requests or []
    _stop_with_key(runtime, instance, request.run_key, run.id)
    clock.advance(timedelta(minutes=15))
    with build_sensor_context(cursor=first.cursor, resources={"amperity_ops": runtime},
                              instance=instance) as context:
        later = amperity_workflow_sla_sensor(context)
    assert not later.run_requests
    [open_row] = [r for r in runtime.store.stop_records(TENANT) if not r.dry_run]
    assert open_row.result is None


def test_sensors_have_owners_without_a_beta_warning() -> None:
    """Both sensors name their owners, like the assets, and building one warns about nothing."""
    import warnings

    from dagster import sensor

    assert amperity_workflow_sla_sensor.owners == ["team:data-platform"]
    assert amperity_ingest_sensor.owners == ["team:data-platform"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        silence_owners_beta_warning()  # what importing the sensors module does

        @sensor(name="owned", owners=["team:data-platform"])
        def owned() -> SkipReason:
            return SkipReason("test")

    assert owned.owners == ["team:data-platform"]
    assert not [w for w in caught if "owners" in str(w.message)]
