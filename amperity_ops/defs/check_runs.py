"""The polled assets' checks, evaluated in their own short run right after each poll.

Dagster marks every check of a run "In progress" from the moment the run is created
(``ASSET_CHECK_EVALUATION_PLANNED``), so checks evaluated in the poll's own run read "In
progress" for the whole poll (6-19 s, every few minutes). Here the poll job leaves the checks
out; the asset computes their verdicts from the summary it shows (so a check never disagrees
with the metadata beside it) and records them in its materialization (``check_results``);
``amperity_checks_after_poll`` then starts ``amperity_checks_job``, whose checks only replay
that record: no API call, well under a second "In progress".
"""

# No `from __future__ import annotations`: Dagster reads these annotations at decoration time.

import json
from collections.abc import Iterator, Mapping
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetSelection,
    DagsterRunStatus,
    DefaultSensorStatus,
    MetadataValue,
    RunRequest,
    RunStatusSensorContext,
    SensorDefinition,
    define_asset_job,
    in_process_executor,
    multi_asset_check,
    run_status_sensor,
)

from amperity_ops.defs.checks import (
    CHECK_RESULTS_KEY,
    INGEST_JOBS_KEY,
    WORKFLOW_RUNS_KEY,
    ingest_check_specs,
    runs_check_specs,
)
from amperity_ops.defs.schedules import amperity_poll_job

__all__ = [
    "amperity_checks_after_poll",
    "amperity_checks_job",
    "build_checks_after_poll",
    "ingest_jobs_checks",
    "workflow_runs_checks",
]

def _value(entry: Mapping[str, Any]) -> MetadataValue:
    if "int" in entry:
        return MetadataValue.int(int(entry["int"]))
    if "float" in entry:
        return MetadataValue.float(float(entry["float"]))
    return MetadataValue.md(str(entry.get("md", "")))


def _replay(context: AssetCheckExecutionContext, key: AssetKey,
            names: list[str]) -> Iterator[AssetCheckResult]:
    """One result per check name, from the latest materialization's ``check_results``."""
    event = context.instance.get_latest_materialization_event(key)
    recorded: dict[str, Mapping[str, Any]] = {}
    if event is not None and event.asset_materialization is not None:
        value = event.asset_materialization.metadata.get(CHECK_RESULTS_KEY)
        data = getattr(value, "value", None) or getattr(value, "data", None) or []
        if isinstance(data, str):  # text since the JSON value widened the asset page
            data = json.loads(data)
        recorded = {item["check_name"]: item for item in data if isinstance(item, dict)}
    for name in names:
        item = recorded.get(name)
        if item is None:
            yield AssetCheckResult(
                asset_key=key, check_name=name, passed=False,
                severity=AssetCheckSeverity.WARN,
                description="no poll has recorded this check yet: materialize the asset")
            continue
        yield AssetCheckResult(
            asset_key=key, check_name=name, passed=bool(item["passed"]),
            severity=AssetCheckSeverity(item["severity"]), description=item.get("description"),
            metadata={k: _value(v) for k, v in item.get("metadata", {}).items()})


@multi_asset_check(
    specs=runs_check_specs(),
    name="amperity_workflow_runs_checks",
    description="The workflow-run checks, as the latest poll evaluated them (no API call).",
)
def workflow_runs_checks(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
    """Replay the verdicts the latest ``amperity/workflow_runs`` materialization recorded."""
    yield from _replay(context, WORKFLOW_RUNS_KEY, [s.name for s in runs_check_specs()])


@multi_asset_check(
    specs=ingest_check_specs(),
    name="amperity_ingest_jobs_checks",
    description="The ingest checks, as the latest poll evaluated them (no API call).",
)
def ingest_jobs_checks(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
    """Replay the verdicts the latest ``amperity/ingest_jobs`` materialization recorded."""
    yield from _replay(context, INGEST_JOBS_KEY, [s.name for s in ingest_check_specs()])


def build_checks_after_poll(
    poll_job: Any, name_suffix: str = ""
) -> tuple[Any, SensorDefinition]:
    """The checks job and the sensor that runs it after each successful run of ``poll_job``.

    ``name_suffix`` names both apart when several instances share a code location.
    """
    checks_job = define_asset_job(
        f"amperity_checks_job{name_suffix}",
        selection=AssetSelection.checks(workflow_runs_checks, ingest_jobs_checks),
        description="Record the polled assets' checks (from the latest poll; no API call).",
        # One process, no step subprocess: the run is short, and its start-up is most of the
        # time the checks read "In progress".
        executor_def=in_process_executor,
    )

    @run_status_sensor(
        name=f"amperity_checks_after_poll{name_suffix}",
        run_status=DagsterRunStatus.SUCCESS,
        monitored_jobs=[poll_job],
        request_job=checks_job,
        default_status=DefaultSensorStatus.RUNNING,
        description="After each successful poll, runs the polled assets' checks in their own "
        "run (a check in the poll's run would read 'In progress' for the whole poll).",
    )
    def checks_after_poll(context: RunStatusSensorContext) -> RunRequest:
        """One checks run per successful poll run."""
        return RunRequest(run_key=f"checks:{context.dagster_run.run_id}")

    return checks_job, checks_after_poll


amperity_checks_job, amperity_checks_after_poll = build_checks_after_poll(amperity_poll_job)
