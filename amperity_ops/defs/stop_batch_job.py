"""The batch stop job: many stops of one SLA tick in one Dagster run (``stop_batches``).

Each stop goes through exactly what the stop job does (``services.stop``: re-read, stop only a
recognised running state, at most 3 POSTs, wait, finish the stop's own ledger row), several
at once on a small thread pool: each tenant keeps its own client and request budget, so stops
of different tenants run side by side and one tenant's stops share its 10 requests a second.
The run page lists every stop (run, tenant, result, who asked and why) in one table, and the
run fails, like the stop job, when any stop did not take: the ledger says which, and the SLA
sensor retries those stops one by one (``monitoring.stop_retry``).
"""

# No `from __future__ import annotations`: Dagster reads these annotations at decoration time.

from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta
from typing import Any

from dagster import (
    Config,
    Failure,
    JobDefinition,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    in_process_executor,
    job,
    op,
)
from pydantic import Field

from amperity_ops.client import AmperityError
from amperity_ops.core import Requester
from amperity_ops.core.wording import md_cell
from amperity_ops.defs.instance_names import resource_key_for, suffixed
from amperity_ops.defs.jobs import (
    DID_NOT_TAKE,
    JOB_KIND_TAG,
    REQUESTED_BY_TAG,
    STOP_JOB_MAX_RUNTIME_S,
    StopRunConfig,
    checked_tenant,
)
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.stop import StopOutcome, stop_with_runtime
from amperity_ops.services.tenants import describe_tenant_error

__all__ = [
    "BATCH_STOP_JOB_NAME",
    "BATCH_STOP_OP_NAME",
    "BatchStopItem",
    "BatchStopRunConfig",
    "batch_stop_run_config",
    "build_batch_stop_job",
    "stop_amperity_workflow_runs",
]

BATCH_STOP_JOB_NAME = "stop_amperity_workflow_runs"
BATCH_STOP_OP_NAME = "stop_workflow_runs"
STOP_COUNT_TAG = "amperity-ops/stops"
"""Run tag: how many stops the batch carries (the Runs list shows it)."""
_POOL = 128
"""Stops in flight at once in one batch run. Each mostly sleeps between re-reads while its run
stops; each tenant's requests still go through that tenant's 10-a-second budget."""


class BatchStopItem(Config):
    """One stop of a batch (the SLA sensor fills these)."""

    workflow_id: str = Field(description="The workflow run to stop.")
    tenant: str = Field(description="Its tenant's name in the policy file.")
    reason: str = Field(description="Why (the SLA policy it broke); recorded in the ledger.")


class BatchStopRunConfig(Config):
    """The stops of one SLA tick and who asked for them."""

    stops: list[BatchStopItem] = Field(description="The runs to stop.")
    requested_by: str = Field(description="Who asked (the SLA sensor).")
    wait_timeout_seconds: float = Field(
        default=600.0, description="How long (real seconds) to wait for each run to stop.")
    poll_interval_seconds: float = Field(
        default=5.0, description="Real seconds between re-reads while waiting (each stop's "
        "re-reads are a tenant's; many tenants' stops wait side by side).")


def batch_stop_run_config(
    stops: list[dict[str, str]], *, requested_by: str, op_name: str = BATCH_STOP_OP_NAME
) -> dict[str, Any]:
    """The ``run_config`` of a batch run (``stops``: workflow_id, tenant, reason each)."""
    return {"ops": {op_name: {"config": {"stops": stops, "requested_by": requested_by}}}}


def _stop_one(runtime: OpsRuntime, item: BatchStopItem, config: BatchStopRunConfig,
              requester: Requester) -> StopOutcome | str:
    """One stop, as the stop job does it; a refused item or an API failure as one sentence."""
    single = StopRunConfig(workflow_id=item.workflow_id, reason=item.reason, tenant=item.tenant,
                           requested_by=config.requested_by)
    try:
        tenant = checked_tenant(single, runtime)
    except Failure as refused:
        return f"{item.tenant} {item.workflow_id}: {refused.description}"
    try:
        with runtime.client(tenant.name) as client:
            return stop_with_runtime(
                runtime, client, tenant=tenant.name, workflow_id=item.workflow_id.strip(),
                reason=item.reason.strip(), requester=requester,
                wait_timeout=timedelta(seconds=config.wait_timeout_seconds),
                poll_interval=timedelta(seconds=config.poll_interval_seconds),
            )
    except AmperityError as err:
        return (f"{tenant.name} {item.workflow_id}: the Amperity API failed: "
                f"{describe_tenant_error(tenant, err)}")


def _table(outcomes: list[StopOutcome], problems: list[str]) -> str:
    rows = ["| run | tenant | result | state | reason | requested by |",
            "|---|---|---|---|---|---|"]
    for o in sorted(outcomes, key=lambda o: (o.tenant, o.workflow_id)):
        rows.append(
            f"| `{o.workflow_id}` {md_cell(o.workflow_name or '')} | {md_cell(o.tenant)} | "
            f"**{o.result.value}** | {o.state_before or '-'} -> {o.state_after or '-'} | "
            f"{md_cell(o.reason)} | {md_cell(o.requested_by)} |")
    rows.extend(f"| - | - | **error** | - | {md_cell(p)} | - |" for p in problems)
    return "\n".join(rows)


def stop_workflow_runs(
    context: OpExecutionContext, config: BatchStopRunConfig, runtime: OpsRuntime
) -> None:
    """The batch op's body (the plain op's and every instance's renamed one)."""
    requester = Requester.from_text(config.requested_by)
    context.instance.add_run_tags(context.run_id, {
        REQUESTED_BY_TAG: config.requested_by, STOP_COUNT_TAG: str(len(config.stops))})
    outcomes: list[StopOutcome] = []
    problems: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, min(_POOL, len(config.stops))),
                            thread_name_prefix="amperity-stop") as pool:
        futures = [pool.submit(_stop_one, runtime, item, config, requester)
                   for item in config.stops]
        for future in as_completed(futures):  # logged here, on the op's own thread
            done = future.result()
            if isinstance(done, str):
                problems.append(done)
                context.log.warning(done)
                continue
            outcomes.append(done)
            log = context.log.info if done.succeeded else context.log.warning
            log(f"{done.tenant}: {done.one_line()}")
    counts = Counter(o.result.value for o in outcomes)
    if problems:
        counts["error"] = len(problems)
    summary = ", ".join(f"{n} {result}" for result, n in counts.most_common())
    metadata: dict[str, Any] = {
        "summary": MetadataValue.md(_table(outcomes, problems)),
        "stops": len(config.stops), "results": summary, "requested_by": config.requested_by,
    }
    failed = [o for o in outcomes if o.result in DID_NOT_TAKE]
    if failed or problems:
        lines = [f"{o.tenant} {o.workflow_id}: {o.message}" for o in failed] + problems
        raise Failure(
            description=(f"{len(lines)} of {len(config.stops)} stops did not take ({summary}); "
                         "the ledger says which, and the SLA sensor tries those again one by "
                         "one:\n" + "\n".join(lines)),
            metadata=metadata)
    context.log.info(f"{len(config.stops)} stops: {summary}")
    context.add_output_metadata(metadata)


_DESCRIPTION = (
    "Stop many Amperity workflow runs in one run: the SLA sensor launches it when one tick "
    "asks for more stops than a few (a platform incident); each stop is done exactly as "
    "stop_amperity_workflow_run does it.")


def build_batch_stop_job(name_suffix: str) -> JobDefinition:
    """An instance's batch stop job: ``stop_amperity_workflow_runs<suffix>`` on its resource."""
    rk = resource_key_for(name_suffix)

    @op(name=suffixed(BATCH_STOP_OP_NAME, name_suffix),
        description="Stop each run listed, as the stop job does, several at once; one table "
        "of what happened to each.",
        out=Out(Nothing, description="No value: the metadata says what happened."),
        required_resource_keys={rk})
    def _stop_op(context: OpExecutionContext, config: BatchStopRunConfig) -> None:
        stop_workflow_runs(context, config, getattr(context.resources, rk))

    @job(name=suffixed(BATCH_STOP_JOB_NAME, name_suffix), description=_DESCRIPTION,
         tags={JOB_KIND_TAG: "stop", "dagster/max_runtime": str(STOP_JOB_MAX_RUNTIME_S)},
         executor_def=in_process_executor)
    def _batch_job() -> None:
        _stop_op()

    return _batch_job


stop_amperity_workflow_runs = build_batch_stop_job("")
