"""The stop job executed in-process over the simulator, launched as a person or the sensor would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from dagster import DagsterInstance

from amperity_ops.defs.jobs import (
    ANONYMOUS_REQUESTER,
    REQUESTED_BY_TAG,
    TENANT_TAG,
    WORKFLOW_ID_TAG,
    StopRunConfig,
    stop_amperity_workflow_run,
    stop_run_config,
)
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.simulator import IN_PROCESS_BASE_URL, ManualClock, Simulator
from amperity_ops.simulator.clock import SimulatorClock
from amperity_ops_tests.services.helpers import TENANT, remember_ghost_run

SENSOR = "amperity_workflow_sla_sensor"


@pytest.fixture
def runtime(runtime: OpsRuntime, clock: ManualClock) -> OpsRuntime:
    """The services' runtime whose monotonic clock moves with the simulated sleep (1:1)."""
    runtime.monotonic = lambda: clock.now().timestamp()
    return runtime


@pytest.fixture
def instance() -> DagsterInstance:
    """An ephemeral instance, so run tags and event logs can be read back."""
    return DagsterInstance.ephemeral()


def _run(
    runtime: OpsRuntime, instance: DagsterInstance, workflow_id: str, **config: Any
) -> Any:
    """Execute the stop job with Launchpad-like config (omitted fields left out, not None;
    the required ``requested_by`` left empty, as the Scaffold button fills it)."""
    tags = config.pop("tags", None)
    op_config: dict[str, Any] = {
        "workflow_id": workflow_id,
        "reason": config.pop("reason", "stuck since midnight"),
        "requested_by": config.pop("requested_by", ""),
        "poll_interval_seconds": 5.0,
        **config,
    }
    return stop_amperity_workflow_run.execute_in_process(
        run_config={"ops": {"stop_workflow_run": {"config": op_config}}},
        resources={"amperity_ops": runtime},
        instance=instance,
        raise_on_error=False,
        tags=tags,
    )


def _output_metadata(result: Any) -> dict[str, Any]:
    [event] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    return {k: v.value for k, v in event.event_specific_data.metadata.items()}


def _failure(result: Any) -> Any:
    [event] = result.get_step_failure_events()
    return event.step_failure_data.user_failure_data


def _log_messages(instance: DagsterInstance, result: Any) -> list[str]:
    return [e.user_message for e in instance.all_logs(result.run_id) if e.user_message]


def test_launchpad_stop_summary_first_link_time_and_no_pickle(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """A Launchpad stop: summary first (link, stop sent at, waited), one log line, no pickle."""
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    result = _run(runtime, instance, run.id)
    assert result.success
    meta = _output_metadata(result)
    assert next(iter(meta)) == "summary"
    summary = meta["summary"]
    assert f"[`{run.id}`](https://acme.amperity.example/#/workflows/{run.id})" in summary
    assert "| stop sent at | 2026-11-01 02:00:00 UTC |" in summary
    assert "| waited | 30.0 s (6 re-reads) |" in summary  # 30 s stop delay, re-read every 5 s
    assert "| state | running -> stopped |" in summary
    assert meta["amperity_link"] == f"https://acme.amperity.example/#/workflows/{run.id}"
    assert (meta["result"], meta["requested_by"]) == ("stopped", ANONYMOUS_REQUESTER)
    assert meta["elapsed_seconds"] == pytest.approx(30.0)
    assert (
        f"stopped {run.id} (Courier Group A) running -> stopped in 30.0 s; "
        f"reason stuck since midnight; requested by {ANONYMOUS_REQUESTER}"
    ) in _log_messages(instance, result)
    kinds = [e.event_type_value for e in result.all_events]
    assert "HANDLED_OUTPUT" not in kinds  # an output of type Nothing: nothing is pickled
    [record] = runtime.store.stop_records(TENANT)
    assert (record.requested_by, record.result) == (ANONYMOUS_REQUESTER, "stopped")


def test_launchpad_stop_is_tagged_like_a_sensor_stop(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """The op tags its run with workflow id, tenant and requester, so the Runs list shows them."""
    run = quiet_sim.tenant(TENANT).add_run(started_ago=timedelta(hours=3))
    result = _run(runtime, instance, run.id, requested_by="  jane@example.com ")
    tags = instance.get_run_by_id(result.run_id).tags  # type: ignore[union-attr]
    assert tags[WORKFLOW_ID_TAG] == run.id
    assert tags[TENANT_TAG] == TENANT
    assert tags[REQUESTED_BY_TAG] == "jane@example.com"
    assert tags["amperity-ops/job"] == "stop"
    assert runtime.store.stop_records(TENANT)[0].requested_by == "jane@example.com"


@pytest.mark.parametrize("tag", ["user", "dagster/user"])
def test_requester_comes_from_dagsters_user_tag(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance, tag: str
) -> None:
    """Without requested_by, the person Dagster+ tagged the run with is recorded."""
    run = quiet_sim.tenant(TENANT).add_run(started_ago=timedelta(hours=3))
    result = _run(runtime, instance, run.id, tags={tag: "oncall@example.com"})
    assert _output_metadata(result)["requested_by"] == "oncall@example.com"
    tags = instance.get_run_by_id(result.run_id).tags  # type: ignore[union-attr]
    assert tags[REQUESTED_BY_TAG] == "oncall@example.com"


def test_sensor_stop_keeps_the_sensors_tags(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """A stop launched with the sensor's config and tags ends with the same three tags."""
    run = quiet_sim.tenant(TENANT).add_run(started_ago=timedelta(hours=3))
    sensor_tags = {
        REQUESTED_BY_TAG: f"sensor {SENSOR}",
        TENANT_TAG: TENANT,
        WORKFLOW_ID_TAG: run.id,
        "dagster/sensor_name": SENSOR,
    }
    result = stop_amperity_workflow_run.execute_in_process(
        run_config=stop_run_config(
            workflow_id=run.id, reason="SLA", tenant=TENANT, requested_by=f"sensor {SENSOR}"
        ),
        resources={"amperity_ops": runtime},
        instance=instance,
        tags=sensor_tags,
    )
    assert result.success
    tags = instance.get_run_by_id(result.run_id).tags  # type: ignore[union-attr]
    assert {k: tags[k] for k in sensor_tags} == sensor_tags


REFUSALS = [
    pytest.param(
        {"reason": ""},
        "Refused: `reason` is empty; say why you are stopping this run (it is recorded in the "
        "stop ledger and shown on the run).",
        id="empty-reason",
    ),
    pytest.param(
        {"reason": "   "},
        "Refused: `reason` is empty; say why you are stopping this run (it is recorded in the "
        "stop ledger and shown on the run).",
        id="blank-reason",
    ),
    pytest.param(
        {"workflow_id": ""},
        "Refused: `workflow_id` is empty; paste the id of the run to stop, e.g. "
        "wf-20240619-14418-6UhqSe.",
        id="empty-workflow-id",
    ),
    pytest.param(
        {"workflow_id": "wf/../x"},
        "Refused: `workflow_id` 'wf/../x' is not a valid run id; paste the id of the run to "
        "stop, e.g. wf-20240619-14418-6UhqSe (no spaces, '/', '?', '#', '%', '\\' or '..').",
        id="invalid-workflow-id",
    ),
    pytest.param(
        {"tenant": "nope"},
        "Refused: there is no tenant named 'nope' in the policy file; use one of: acme (or "
        "leave `tenant` empty for the first).",
        id="unknown-tenant",
    ),
]


@pytest.mark.parametrize(("config", "description"), REFUSALS)
def test_bad_config_is_refused_in_one_sentence_before_any_request(
    runtime: OpsRuntime,
    quiet_sim: Simulator,
    instance: DagsterInstance,
    config: dict[str, Any],
    description: str,
) -> None:
    """What Scaffold fills in ('') or a typo fails with one plain sentence and sends nothing."""
    workflow_id = config.pop("workflow_id", "wf-20261101-00001-AAAAAA")
    quiet_sim.request_log(TENANT).reset()
    result = _run(runtime, instance, workflow_id, **config)
    assert not result.success
    failure = _failure(result)
    assert failure.description == description
    assert quiet_sim.request_log(TENANT).total == 0
    assert runtime.store.stop_records(TENANT) == []


def test_a_refused_run_is_tagged_with_what_was_filled_in(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """A run refused for an empty reason still carries the workflow id, tenant and requester."""
    result = _run(runtime, instance, "wf-20261101-00001-AAAAAA", reason="", tenant=TENANT,
                  requested_by="jane@example.com")
    assert not result.success
    tags = instance.get_run_by_id(result.run_id).tags  # type: ignore[union-attr]
    assert tags[WORKFLOW_ID_TAG] == "wf-20261101-00001-AAAAAA"
    assert tags[TENANT_TAG] == TENANT
    assert tags[REQUESTED_BY_TAG] == "jane@example.com"


def test_a_refused_run_tags_only_the_fields_given(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """An empty workflow id and tenant are not tagged; the requester (anonymous) still is."""
    result = _run(runtime, instance, "")
    assert not result.success
    tags = instance.get_run_by_id(result.run_id).tags  # type: ignore[union-attr]
    assert WORKFLOW_ID_TAG not in tags
    assert TENANT_TAG not in tags
    assert tags[REQUESTED_BY_TAG] == ANONYMOUS_REQUESTER


def test_a_persons_typo_fails_the_run_and_leaves_no_trace(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """An id that does not exist fails a person's run with the 404 sentence; nothing recorded."""
    result = _run(runtime, instance, "wf-typo-123")
    assert not result.success
    failure = _failure(result)
    assert failure.description == (
        "wf-typo-123 does not exist in tenant acme (404): check the id; nothing was stopped"
    )
    assert failure.metadata["result"].value == "not_found"
    assert "amperity_link" not in failure.metadata
    assert "](" not in failure.metadata["summary"].value  # the id is not a link either
    assert runtime.store.stop_records(TENANT) == []
    assert runtime.store.vanished_run_ids(TENANT) == set()


def test_a_sensors_not_found_does_not_fail_its_run(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """For the sensor (nobody to fix an id) a 404 is reported as not_found without failing."""
    result = _run(
        runtime, instance, "wf-20261101-00000-GONE00", tags={"dagster/sensor_name": SENSOR}
    )
    assert result.success
    meta = _output_metadata(result)
    assert meta["result"] == "not_found"
    assert "does not exist" in meta["summary"]


def test_a_run_the_store_knew_that_answers_404_vanished(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """A run seen before that is gone now is 'vanished': the job succeeds and says so."""
    ghost = remember_ghost_run(runtime)
    result = _run(runtime, instance, ghost.id)
    assert result.success
    assert _output_metadata(result)["result"] == "vanished"
    assert runtime.store.vanished_run_ids(TENANT) == {ghost.id}


def test_finished_run_succeeds_and_says_there_was_nothing_to_stop(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """An already finished run: the job succeeds, sends nothing and says why."""
    run = quiet_sim.tenant(TENANT).add_run(state="succeeded", started_ago=timedelta(hours=1))
    result = _run(runtime, instance, run.id)
    assert result.success
    meta = _output_metadata(result)
    assert meta["result"] == "not_running"
    assert "nothing to stop" in meta["message"]
    assert "| stop sent at | not sent |" in meta["summary"]


def test_dry_run_sends_nothing(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """A dry run from the Launchpad leaves the run running."""
    run = quiet_sim.tenant(TENANT).add_run(started_ago=timedelta(hours=3))
    result = _run(runtime, instance, run.id, dry_run=True)
    assert _output_metadata(result)["result"] == "dry_run"
    assert quiet_sim.tenant(TENANT).state_of(run.id) == "running"


def test_timeout_fails_with_its_sentence_and_the_summary(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """A run still stopping at the (real-time) timeout fails the step, saying so first."""
    run = quiet_sim.tenant(TENANT).add_run(name="Slow", started_ago=timedelta(hours=3))
    result = _run(runtime, instance, run.id, wait_timeout_seconds=10.0)
    assert not result.success
    failure = _failure(result)
    assert failure.description == (
        f"stop sent to {run.id} (Slow), but it is still stopping after 10 s"
    )
    assert "| waited | 10.0 s (2 re-reads) |" in failure.metadata["summary"].value


def test_field_descriptions_say_what_to_fill_in() -> None:
    """The Launchpad explains each field: required ones, the Scaffold trap, OSS requested_by."""
    fields = StopRunConfig.model_fields
    assert "Required" in (fields["workflow_id"].description or "")
    assert "Scaffold" in (fields["workflow_id"].description or "")
    assert "Required" in (fields["reason"].description or "")
    assert "recorded" in (fields["reason"].description or "")
    assert "OSS Dagster" in (fields["requested_by"].description or "")
    assert ANONYMOUS_REQUESTER in (fields["requested_by"].description or "")


def test_stop_time_on_the_simulator_clock_says_so(
    runtime: OpsRuntime, quiet_sim: Simulator, instance: DagsterInstance
) -> None:
    """On the demo's simulator clock the summary's stop time reads '(simulator clock)'."""
    runtime.clock = SimulatorClock(IN_PROCESS_BASE_URL, transport=quiet_sim.transport())
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    result = _run(runtime, instance, run.id)
    assert result.success
    summary = _output_metadata(result)["summary"]
    assert "| stop sent at | 2026-11-01 02:00:00 UTC (simulator clock) |" in summary
