"""The stop job: the one path for the SLA sensor and for a person in the Launchpad."""

# No `from __future__ import annotations`: Dagster reads these annotations at decoration time.

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from dagster import (
    Config,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
    ResourceParam,
    job,
    op,
)
from pydantic import Field

from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.stop import StopOutcome, StopResult, stop_workflow_run

__all__ = [
    "REQUESTED_BY_TAG",
    "STOP_JOB_NAME",
    "STOP_OP_NAME",
    "StopRunConfig",
    "requested_by_from_tags",
    "stop_amperity_workflow_run",
    "stop_run_config",
]

STOP_JOB_NAME = "stop_amperity_workflow_run"
STOP_OP_NAME = "stop_workflow_run"
REQUESTED_BY_TAG = "amperity-ops/requested-by"
"""Run tag naming who asked for a stop (set by the sensor and the CLI)."""
JOB_KIND_TAG = "amperity-ops/job"
"""Run tag the run queue uses to cap concurrent stop jobs (see dagster.yaml)."""


class StopRunConfig(Config):
    """What to stop and why (the Launchpad shows these fields)."""

    workflow_id: str = Field(description="The workflow run to stop, e.g. wf-20240619-14418-6UhqSe.")
    reason: str = Field(
        description="Why it is being stopped. Required: recorded in the stop ledger and shown "
        "on the run."
    )
    tenant: str | None = Field(
        default=None,
        description="Tenant name from the policy file; empty means the first (usually only) one.",
    )
    dry_run: bool = Field(
        default=False, description="Re-read the run and say what would happen, but send nothing."
    )
    requested_by: str | None = Field(
        default=None,
        description="Who asked. Empty: the run's `user` tag if Dagster set one, else 'launchpad'.",
    )
    wait_timeout_seconds: float = Field(
        default=600.0,
        description="How long to wait for the run to reach a terminal state after the stop.",
    )
    poll_interval_seconds: float = Field(
        default=10.0, description="Time between re-reads while waiting."
    )


def requested_by_from_tags(tags: Mapping[str, str]) -> str:
    """Who launched this run: our tag, Dagster's ``user`` tag, the sensor, else ``launchpad``.

    Args:
        tags: The Dagster run's tags.

    Returns:
        A short description of the requester.
    """
    if tags.get(REQUESTED_BY_TAG):
        return tags[REQUESTED_BY_TAG]
    if tags.get("user"):  # Dagster+ tags runs launched by a person with their e-mail.
        return tags["user"]
    if tags.get("dagster/sensor_name"):
        return f"sensor {tags['dagster/sensor_name']}"
    if tags.get("dagster/schedule_name"):
        return f"schedule {tags['dagster/schedule_name']}"
    return "launchpad"


def stop_run_config(
    *, workflow_id: str, reason: str, tenant: str | None, requested_by: str, dry_run: bool = False
) -> dict[str, Any]:
    """The ``run_config`` that launches the stop job (used by the sensor and the CLI)."""
    return {
        "ops": {
            STOP_OP_NAME: {
                "config": {
                    "workflow_id": workflow_id,
                    "reason": reason,
                    "tenant": tenant,
                    "dry_run": dry_run,
                    "requested_by": requested_by,
                }
            }
        }
    }


def _metadata(outcome: StopOutcome) -> dict[str, Any]:
    values: dict[str, Any] = {k: v for k, v in outcome.as_metadata().items() if v is not None}
    table = "\n".join(
        [
            "| | |",
            "|---|---|",
            f"| run | `{outcome.workflow_id}` {outcome.workflow_name or ''} |",
            f"| tenant | {outcome.tenant} |",
            f"| result | **{outcome.result.value}** |",
            f"| state before | {outcome.state_before or '-'} |",
            f"| state after | {outcome.state_after or '-'} |",
            f"| waited | {outcome.elapsed.total_seconds():.1f} s ({outcome.polls} re-reads) |",
            f"| reason | {outcome.reason} |",
            f"| requested by | {outcome.requested_by} |",
        ]
    )
    values["summary"] = MetadataValue.md(table)
    return values


@op(
    name=STOP_OP_NAME,
    description="Re-read the run; stop it only if it is in a recognised running state; wait "
    "until it has stopped; record who asked and why.",
)
def stop_workflow_run_op(
    context: OpExecutionContext, config: StopRunConfig, amperity_ops: ResourceParam[OpsRuntime]
) -> Output[dict[str, Any]]:
    """Stop one workflow run, the same way whoever asks."""
    requested_by = config.requested_by or requested_by_from_tags(context.run.tags)
    tenant = amperity_ops.tenant(config.tenant)
    with amperity_ops.client(tenant.name) as client:
        outcome = stop_workflow_run(
            client,
            amperity_ops.store,
            tenant=tenant.name,
            workflow_id=config.workflow_id,
            reason=config.reason,
            requested_by=requested_by,
            dry_run=config.dry_run,
            wait_timeout=timedelta(seconds=config.wait_timeout_seconds),
            poll_interval=timedelta(seconds=config.poll_interval_seconds),
            clock=amperity_ops.clock,
            sleep=amperity_ops.sleep,
        )
    context.log.info(outcome.message)
    if outcome.result is StopResult.STILL_STOPPING:
        raise Failure(description=outcome.message, metadata=_metadata(outcome))
    return Output(outcome.as_metadata(), metadata=_metadata(outcome))


@job(
    name=STOP_JOB_NAME,
    description="Stop one Amperity workflow run (the SLA sensor launches it; so can you, from "
    "the Launchpad: workflow_id and reason are required).",
    tags={JOB_KIND_TAG: "stop"},
)
def stop_amperity_workflow_run() -> None:
    """Stop one Amperity workflow run."""
    stop_workflow_run_op()
