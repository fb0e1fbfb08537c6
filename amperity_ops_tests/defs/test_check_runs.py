"""Checks out of the poll's run: the poll job plans no check (nothing reads "In progress" while
it polls); the checks run replays the verdicts the poll recorded; one checks run per poll."""

from __future__ import annotations

from datetime import timedelta

from dagster import (
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    JobDefinition,
    build_run_status_sensor_context,
    materialize,
)

from amperity_ops.definitions import defs
from amperity_ops.defs.assets import workflow_runs
from amperity_ops.defs.check_runs import amperity_checks_after_poll
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.simulator import Simulator
from amperity_ops_tests.services.helpers import TENANT


def _checks_job() -> JobDefinition:
    return defs.resolve_job_def("amperity_checks_job")


def test_the_poll_job_plans_no_check_and_the_checks_job_plans_them_all() -> None:
    """amperity_poll_job holds no check (none planned for the poll); the checks job all six."""
    assert defs.resolve_job_def("amperity_poll_job").asset_layer.asset_graph.asset_check_keys \
        == set()
    checks = defs.resolve_job_def("amperity_checks_job").asset_layer.asset_graph.asset_check_keys
    assert {k.name for k in checks} == {
        "runs_within_sla", "no_failed_runs_in_window", "all_tenants_polled",
        "ingest_error_rate_within_threshold", "ingest_reject_rate_within_threshold",
        "no_failed_feeds"}


def test_a_poll_run_marks_no_check_in_progress_and_the_checks_run_replays_its_verdicts(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """The poll alone emits no ASSET_CHECK_EVALUATION_PLANNED; the checks run then reports the
    breach the poll's summary found, with the same description, and calls no API."""
    quiet_sim.tenant(TENANT).add_run(name="Courier Group Late", started_ago=timedelta(hours=3))
    instance = DagsterInstance.ephemeral()
    poll = materialize([workflow_runs], resources={"amperity_ops": runtime}, instance=instance)
    planned = instance.get_records_for_run(
        poll.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED).records
    assert planned == []
    quiet_sim.request_log(TENANT).reset()
    checks = _checks_job().execute_in_process(instance=instance)
    assert quiet_sim.request_log(TENANT).total == 0
    found = {e.check_name: e for e in checks.get_asset_check_evaluations()}
    assert not found["runs_within_sla"].passed
    assert "Courier Group Late" in (found["runs_within_sla"].description or "")
    assert found["all_tenants_polled"].passed
    assert found["runs_within_sla"].metadata["breached"].value == 1


def test_checks_before_any_poll_say_so() -> None:
    """With no materialization yet, every check fails with a sentence saying what to do."""
    checks = _checks_job().execute_in_process(instance=DagsterInstance.ephemeral())
    evaluations = checks.get_asset_check_evaluations()
    assert len(evaluations) == 6
    for evaluation in evaluations:
        assert not evaluation.passed
        assert evaluation.description == (
            "no poll has recorded this check yet: materialize the asset")


def test_one_checks_run_per_successful_poll_run() -> None:
    """The run-status sensor asks for the checks job once per poll run (keyed by its id)."""
    instance = DagsterInstance.ephemeral()
    run = instance.create_run_for_job(defs.resolve_job_def("amperity_poll_job"))
    context = build_run_status_sensor_context(
        sensor_name="amperity_checks_after_poll", dagster_instance=instance,
        dagster_run=run, dagster_event=DagsterEvent(
            event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name),
    )
    request = amperity_checks_after_poll(context)
    assert request.run_key == f"checks:{run.run_id}"
