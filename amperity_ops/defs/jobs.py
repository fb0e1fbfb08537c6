"""The stop job: the one path for the SLA sensor and for a person in the Launchpad.

The op checks its config before any API call and refuses a bad one with a ``Failure`` whose
description is one plain sentence (the run page shows it first, not a stack trace): the
Launchpad's "Scaffold missing config" fills every string with ``''``, so an empty reason or
workflow id reaches the op. It then tags the run (workflow id, tenant, who asked) so a
Launchpad stop looks like a sensor stop in the Runs list, and hands over to
``services/stop.py``. The output is of type ``Nothing``: its metadata (a readable summary
first) is all there is, so no pickle is written.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at decoration time.

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from dagster import (
    Config,
    Failure,
    JobDefinition,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    ResourceParam,
    in_process_executor,
    job,
    op,
)
from pydantic import Field

from amperity_ops.client import AmperityError, check_id
from amperity_ops.core import Requester, StopResult
from amperity_ops.core.clock import clock_name
from amperity_ops.core.wording import md_cell
from amperity_ops.defs.instance_names import resource_key_for, suffixed
from amperity_ops.services.runtime import OpsRuntime, UnknownTenantError
from amperity_ops.services.stop import StopOutcome, stop_with_runtime
from amperity_ops.services.tenants import describe_tenant_error
from amperity_ops.settings import TenantConfig

__all__ = [
    "ANONYMOUS_REQUESTER",
    "DID_NOT_TAKE",
    "JOB_KIND_TAG",
    "REQUESTED_BY_TAG",
    "STOP_JOB_MAX_RUNTIME_S",
    "STOP_JOB_NAME",
    "STOP_OP_NAME",
    "STOP_TENANT_TAG",
    "TENANT_TAG",
    "WORKFLOW_ID_TAG",
    "WORKFLOW_ID_TAIL_TAG",
    "StopRunConfig",
    "build_stop_job",
    "checked_tenant",
    "launched_by_automation",
    "requested_by_from_tags",
    "stop_amperity_workflow_run",
    "stop_run_config",
    "stop_run_tags",
    "stop_workflow_run",
    "workflow_id_tail",
]

STOP_JOB_NAME = "stop_amperity_workflow_run"
STOP_OP_NAME = "stop_workflow_run"
REQUESTED_BY_TAG = "amperity-ops/requested-by"
"""Run tag naming who asked for a stop (set by the sensor, the CLI and the op itself)."""
WORKFLOW_ID_TAG = "amperity-ops/workflow-id"
"""Run tag naming the workflow run a stop targets (set by the sensor and the op itself)."""
TENANT_TAG = "amperity-ops/tenant"
"""Run tag naming the tenant of that workflow run (set by the sensor and the op itself)."""
WORKFLOW_ID_TAIL_TAG = "amperity-ops/id-tail"
"""Run tag holding the distinguishing tail of the workflow run id (``14418-6UhqSe`` of
``wf-20240619-14418-6UhqSe``): the Runs list cuts long tag values, and every id of a day
starts alike."""
JOB_KIND_TAG = "amperity-ops/job"
"""Run tag the run queue uses to cap concurrent stop jobs (see dagster.yaml)."""
STOP_TENANT_TAG = "amperity-ops/stop-tenant"
"""Run tag naming the tenant on a stop run only, for the run queue: at most one stop at a time
per tenant (``applyLimitPerUniqueValue`` in dagster.yaml), so a fleet-wide burst of breaches
runs many tenants' stops side by side without ever bursting against one tenant's API."""
STOP_JOB_MAX_RUNTIME_S = 1200
"""Dagster's run monitoring cancels a stop run this old (the job waits at most 10 minutes for
a run to stop). A stop job whose process died is otherwise left STARTED for ever under the
default run launcher, which cannot see its worker; once Dagster ends it, the SLA sensor
completes its ledger row and may try again (``monitoring.stop_retry``)."""
ANONYMOUS_REQUESTER = "launchpad (anonymous)"
"""Recorded as who asked when nobody said (OSS Dagster does not tag runs with their user)."""
_USER_TAGS = ("dagster/user", "user")
"""Tags Dagster+ sets to the person who launched a run."""
_EXAMPLE_ID = "wf-20240619-14418-6UhqSe"
DID_NOT_TAKE = frozenset({StopResult.STILL_STOPPING, StopResult.FAILED,
                           StopResult.OUTCOME_UNKNOWN})
"""Endings that fail the stop run (red in the Runs list): the run may still be going."""


class StopRunConfig(Config):
    """What to stop and why (the Launchpad shows these fields)."""

    workflow_id: str = Field(
        description=f"Required: the workflow run to stop, e.g. {_EXAMPLE_ID} (from the alert "
        "or the amperity/workflow_runs asset). The Launchpad's Scaffold button fills it with "
        "an empty string: replace it."
    )
    reason: str = Field(
        description="Required: why you are stopping this run, in a sentence. It is recorded "
        "in the stop ledger and shown on the run; an empty reason is refused."
    )
    tenant: str | None = Field(
        default=None,
        description="Tenant name from the policy file; empty means the first (usually only) one.",
    )
    dry_run: bool = Field(
        default=False, description="Re-read the run and say what would happen, but send nothing."
    )
    requested_by: str = Field(
        description="Required: who is asking, your name or e-mail (OSS Dagster does not "
        "record who launched a run, so the Launchpad refuses to launch without this field). "
        "Left empty: Dagster's user tag if set (Dagster+), else "
        f"'{ANONYMOUS_REQUESTER}'. Recorded in the stop ledger and as a run tag.",
    )
    wait_timeout_seconds: float = Field(
        default=600.0,
        description="How long (real seconds) to wait for the run to reach a terminal state "
        "after the stop.",
    )
    poll_interval_seconds: float = Field(
        default=10.0, description="Real seconds between re-reads while waiting."
    )


def requested_by_from_tags(tags: Mapping[str, str]) -> str:
    """Who launched this run: our tag, Dagster's user tag, the sensor, else anonymous.

    Args:
        tags: The Dagster run's tags.

    Returns:
        A short description of the requester (``launchpad (anonymous)`` when nothing says).
    """
    if tags.get(REQUESTED_BY_TAG):
        return tags[REQUESTED_BY_TAG]
    for key in _USER_TAGS:  # Dagster+ tags runs launched by a person with their e-mail.
        if tags.get(key):
            return tags[key]
    if tags.get("dagster/sensor_name"):
        return f"sensor {tags['dagster/sensor_name']}"
    if tags.get("dagster/schedule_name"):
        return f"schedule {tags['dagster/schedule_name']}"
    return ANONYMOUS_REQUESTER


def launched_by_automation(tags: Mapping[str, str]) -> bool:
    """True if a sensor or a schedule launched this run (nobody to tell about a typo)."""
    return bool(tags.get("dagster/sensor_name") or tags.get("dagster/schedule_name"))


def workflow_id_tail(workflow_id: str) -> str:
    """The part of a run id that tells runs of one day apart.

    ``wf-20240619-14418-6UhqSe`` -> ``14418-6UhqSe`` (the prefix and the date are the same for
    every run of a day); an id of another shape is returned whole.
    """
    parts = workflow_id.strip().split("-")
    if len(parts) >= 4 and parts[1].isdigit() and len(parts[1]) == 8:
        return "-".join(parts[2:])
    return workflow_id.strip()


def stop_run_tags(*, workflow_id: str, tenant: str, requested_by: str) -> dict[str, str]:
    """The tags of a stop run (the sensor sets them on its RunRequest, the op on its run).

    The id's tail goes first: the Runs list shows tags in order and cuts the long ones.
    """
    tags = {WORKFLOW_ID_TAIL_TAG: workflow_id_tail(workflow_id), WORKFLOW_ID_TAG: workflow_id,
            TENANT_TAG: tenant, REQUESTED_BY_TAG: requested_by, STOP_TENANT_TAG: tenant}
    return {key: value for key, value in tags.items() if value}


def stop_run_config(
    *, workflow_id: str, reason: str, tenant: str | None, requested_by: str, dry_run: bool = False,
    op_name: str = STOP_OP_NAME,
) -> dict[str, Any]:
    """The ``run_config`` that launches the stop job (used by the sensor and the CLI).

    ``op_name`` is the stop op of the job launched (an instance's is suffixed).
    """
    return {
        "ops": {
            op_name: {
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


def _refuse(problem: str) -> Failure:
    """A Failure the run page shows as one sentence; retrying the same config cannot help."""
    return Failure(description=f"Refused: {problem}.", allow_retries=False)


def checked_tenant(config: StopRunConfig, runtime: OpsRuntime) -> TenantConfig:
    """The tenant to act on, after checking the config; raises a plain-sentence ``Failure``.

    Nothing here calls the API: a refused config sends no request at all.
    """
    workflow_id = config.workflow_id.strip()
    if not workflow_id:
        raise _refuse(
            f"`workflow_id` is empty; paste the id of the run to stop, e.g. {_EXAMPLE_ID}"
        )
    try:
        check_id(workflow_id, "workflow_id")
    except ValueError:
        raise _refuse(
            f"`workflow_id` {workflow_id!r} is not a valid run id; paste the id of the run to "
            f"stop, e.g. {_EXAMPLE_ID} (no spaces, '/', '?', '#', '%', '\\' or '..')"
        ) from None
    if not config.reason.strip():
        raise _refuse(
            "`reason` is empty; say why you are stopping this run (it is recorded in the "
            "stop ledger and shown on the run)"
        )
    try:
        return runtime.tenant((config.tenant or "").strip() or None)
    except UnknownTenantError:
        known = ", ".join(t.name for t in runtime.tenants)
        raise _refuse(
            f"there is no tenant named {config.tenant!r} in the policy file; use one of: "
            f"{known} (or leave `tenant` empty for the first)"
        ) from None


def _when(moment: datetime | None, clock_note: str) -> str:
    if moment is None:
        return "not sent"
    return f"{moment.strftime('%Y-%m-%d %H:%M:%S')} UTC{clock_note}"


def _metadata(outcome: StopOutcome, link: str | None, clock_note: str) -> dict[str, Any]:
    """The readable summary first, then the link and the flat values (for search and plots)."""
    run = f"[`{outcome.workflow_id}`]({link})" if link else f"`{outcome.workflow_id}`"
    table = "\n".join(
        [
            "| | |",
            "|---|---|",
            f"| what happened | {md_cell(outcome.message)} |",
            f"| run | {run} {md_cell(outcome.workflow_name or '')} |",
            f"| tenant | {md_cell(outcome.tenant)} |",
            f"| result | **{outcome.result.value}** |",
            f"| state | {outcome.state_before or '-'} -> {outcome.state_after or '-'} |",
            f"| stop sent at | {_when(outcome.stop_sent_at, clock_note)} |",
            f"| waited | {outcome.waited} |",
            f"| reason | {md_cell(outcome.reason)} |",
            f"| requested by | {md_cell(outcome.requested_by)} |",
        ]
    )
    values: dict[str, Any] = {"summary": MetadataValue.md(table)}
    if link:
        values["amperity_link"] = MetadataValue.url(link)
    values.update({k: v for k, v in outcome.as_metadata().items() if v is not None})
    return values


@op(
    name=STOP_OP_NAME,
    description="Re-read the run; stop it only if it is in a recognised running state; wait "
    "until it has stopped; record who asked and why.",
    out=Out(Nothing, description="No value: the metadata says what happened."),
)
def stop_workflow_run_op(
    context: OpExecutionContext, config: StopRunConfig, amperity_ops: ResourceParam[OpsRuntime]
) -> None:
    """Stop one workflow run, the same way whoever asks."""
    stop_workflow_run(context, config, amperity_ops)


def stop_workflow_run(
    context: OpExecutionContext, config: StopRunConfig, amperity_ops: OpsRuntime
) -> None:
    """The stop op's body (the plain op's and every instance's renamed one)."""
    tags = context.run.tags
    workflow_id = config.workflow_id.strip()
    requested_by = (config.requested_by or "").strip() or requested_by_from_tags(tags)
    # Every stop run carries the same tags, however it was launched (Runs list filters), a
    # refused one too: whatever was filled in is tagged before the checks, so the Runs list
    # says which run a refused attempt was about.
    given = stop_run_tags(workflow_id=workflow_id, tenant=(config.tenant or "").strip(),
                          requested_by=requested_by)
    context.instance.add_run_tags(context.run_id, given)
    tenant = checked_tenant(config, amperity_ops)
    if tenant.name != given.get(TENANT_TAG):  # an empty `tenant` means the first one
        context.instance.add_run_tags(context.run_id, {TENANT_TAG: tenant.name})
    try:
        with amperity_ops.client(tenant.name) as client:
            outcome = stop_with_runtime(
                amperity_ops,
                client,
                tenant=tenant.name,
                workflow_id=workflow_id,
                reason=config.reason.strip(),
                requester=Requester.from_text(requested_by),
                dry_run=config.dry_run,
                wait_timeout=timedelta(seconds=config.wait_timeout_seconds),
                poll_interval=timedelta(seconds=config.poll_interval_seconds),
            )
    except AmperityError as err:
        # The client's messages name the status and request id; scrubbed all the same.
        raise Failure(
            description=f"The Amperity API failed for tenant {tenant.name}: "
            f"{describe_tenant_error(tenant, err)}"
        ) from err
    clock_note = f" ({name})" if (name := clock_name(amperity_ops.clock)) else ""
    # No link to a run that does not exist (a typo'd id): it would open an error page.
    link = None if outcome.result is StopResult.NOT_FOUND else tenant.run_link(workflow_id)
    metadata = _metadata(outcome, link, clock_note)
    if outcome.succeeded:
        context.log.info(outcome.one_line())
    else:
        context.log.warning(outcome.one_line())
    if outcome.result in DID_NOT_TAKE:
        # The ledger says failed / outcome unknown; the message names Amperity's request ids.
        raise Failure(description=outcome.message, metadata=metadata)
    if outcome.result is StopResult.NOT_FOUND and not launched_by_automation(tags):
        # A person's typo must not look like a success; a retry with the same id cannot help.
        raise Failure(description=outcome.message, metadata=metadata, allow_retries=False)
    context.add_output_metadata(metadata)


@job(
    name=STOP_JOB_NAME,
    description="Stop one Amperity workflow run (the SLA sensor launches it; so can you, from "
    "the Launchpad: workflow_id, reason and, in OSS Dagster, requested_by).",
    tags={JOB_KIND_TAG: "stop", "dagster/max_runtime": str(STOP_JOB_MAX_RUNTIME_S)},
    # One op: a step subprocess (the default multiprocess executor) would only add a second
    # Python start to every stop, which matters when a burst of breaches queues many of them.
    executor_def=in_process_executor,
)
def stop_amperity_workflow_run() -> None:
    """Stop one Amperity workflow run."""
    stop_workflow_run_op()


def build_stop_job(name_suffix: str) -> JobDefinition:
    """An instance's stop job: ``stop_amperity_workflow_run<suffix>`` with op
    ``stop_workflow_run<suffix>`` on the instance's resource ("" gives the plain job)."""
    if not name_suffix:
        return stop_amperity_workflow_run
    rk = resource_key_for(name_suffix)

    @op(name=suffixed(STOP_OP_NAME, name_suffix), description=stop_workflow_run_op.description,
        out=Out(Nothing, description="No value: the metadata says what happened."),
        required_resource_keys={rk})
    def _stop_op(context: OpExecutionContext, config: StopRunConfig) -> None:
        stop_workflow_run(context, config, getattr(context.resources, rk))

    @job(name=suffixed(STOP_JOB_NAME, name_suffix),
         description=stop_amperity_workflow_run.description, tags={JOB_KIND_TAG: "stop"})
    def _stop_job() -> None:
        _stop_op()

    return _stop_job
