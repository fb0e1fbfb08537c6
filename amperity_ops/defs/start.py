"""Startable workflow assets: materializing one starts the Amperity workflow and waits for it.

``build_startable_workflow_assets(tenant, {"Daily Ecommerce Sources": "cg-2Kc8nRw1Q"})``
returns one materializable asset per workflow (``OpsConfig.startable`` lists them), in place of
that workflow's external ``AssetSpec``. Materializing it:

1. attaches to the workflow's run in flight, or starts it (``POST /workflow/runs``; a lost
   answer is verified by reading, never re-sent blindly: ``services/start.py``);
2. streams each state change to the Dagster run's log, re-reading every ``start.poll_interval``;
3. waits at most ``start.timeout`` (real time) and succeeds with the run's metadata, or fails
   with Amperity's error and its attribution;
4. when the Dagster run is terminated (its status turns CANCELING, or Dagster interrupts the
   step), stops the Amperity run it started through the same careful stop path as the stop
   job (``services.stop.stop_with_runtime``), recorded once in the stop ledger with who and
   why. ``start.stop_on_terminate: false`` leaves the run alone; a run it merely attached to
   (someone else started it) is never stopped.

Options (timeout, poll interval, stop_on_terminate) are read from the runtime's policy when the
run starts, the list of startable workflows when the code location loads.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at decoration time.

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    DagsterExecutionInterruptedError,
    DagsterRunStatus,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from amperity_ops.client import AmperityClient, AmperityError, OutcomeUnknownError, WorkflowRun
from amperity_ops.core import Requester
from amperity_ops.defs.jobs import TENANT_TAG, WORKFLOW_ID_TAG
from amperity_ops.defs.resources import RESOURCE_KEY
from amperity_ops.defs.translator import (
    AmperityTranslator,
    AmperityWorkflowProps,
    startable_workflow,
)
from amperity_ops.monitoring.asset_events import MATERIALIZED, workflow_ref
from amperity_ops.monitoring.catalog import slugify
from amperity_ops.monitoring.start import run_end, state_line
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.start import StartedRun, WaitEnd, start_or_attach, wait_for_end
from amperity_ops.services.stop import stop_with_runtime
from amperity_ops.services.tenants import describe_tenant_error
from amperity_ops.settings import TenantConfig

__all__ = [
    "STOP_WAIT",
    "build_startable_workflow_assets",
    "start_op_name",
    "terminated_requester",
]

STOP_WAIT = timedelta(seconds=30)
"""How long a stop on terminate waits for the run to end: Dagster gives a terminated step
little time, and the ledger row is written before the wait anyway."""
_STOP_POLL = timedelta(seconds=5)
_USER_TAGS = ("dagster/user", "user")
"""Tags Dagster+ sets to the person who launched a run (OSS Dagster sets none)."""
_TERMINATING = (DagsterRunStatus.CANCELING, DagsterRunStatus.CANCELED)


def start_op_name(tenant: str, workflow: str, name_suffix: str = "") -> str:
    """The op behind a startable asset: ``start_<tenant>__<workflow>[<suffix>]``."""
    suffix = re.sub(r"[^A-Za-z0-9_]", "_", name_suffix)
    return f"start_{slugify(tenant)}__{slugify(workflow)}{suffix}"


def terminated_requester(tags: Mapping[str, str], run_id: str) -> Requester:
    """Who stops the Amperity run when its Dagster run is terminated: the run's user, if known."""
    for key in _USER_TAGS:
        if tags.get(key):
            return Requester.person(tags[key])
    return Requester.person(f"dagster run {run_id}")


def _default_spec(tenant: str, name: str, config_id: str) -> AssetSpec:
    return AmperityTranslator().get_workflow_spec(AmperityWorkflowProps(
        tenant=tenant, workflow=startable_workflow(name, config_id),
        sla="as the policy says", freshness=None, link=None, catalog_refreshed_at=None))


def build_startable_workflow_assets(
    tenant: str,
    startable: Mapping[str, str],
    *,
    spec_for: Callable[[str, str], AssetSpec] | None = None,
    resource_key: str = RESOURCE_KEY,
    name_suffix: str = "",
) -> list[AssetsDefinition]:
    """One materializable asset per startable workflow of a tenant.

    Args:
        tenant: The tenant's name in the policy file.
        startable: Workflow name -> ``config_id`` (``OpsConfig.startable``).
        spec_for: ``(name, config_id) -> AssetSpec``: the workflow's spec as the translator
            makes it (key, deps, group, owners, freshness ...; ``build_amperity_defs`` passes
            the asset graph's spec, so the key is the external asset's); default: the default
            translator's spec, the workflow type read from the config id's prefix.
        resource_key: The key of the ``OpsRuntime`` resource (suffixed per component).
        name_suffix: Appended to the op names (several tenants or component instances).

    Returns:
        The assets; each replaces the external spec with the same key.
    """
    make_spec = spec_for or (lambda name, config_id: _default_spec(tenant, name, config_id))
    return [
        _startable_asset(tenant, name, config_id, make_spec(name, config_id),
                         resource_key=resource_key, name_suffix=name_suffix)
        for name, config_id in startable.items()
    ]


def _startable_asset(
    tenant: str, name: str, config_id: str, spec: AssetSpec, *, resource_key: str,
    name_suffix: str,
) -> AssetsDefinition:
    @multi_asset(
        name=start_op_name(tenant, name, name_suffix),
        specs=[spec.merge_attributes(metadata={"amperity/config_id": config_id})],
        required_resource_keys={resource_key},
        description=f"Start Amperity workflow {name!r} ({config_id}) and wait for its end.",
    )
    def _start(context: AssetExecutionContext) -> MaterializeResult:
        runtime: OpsRuntime = getattr(context.resources, resource_key)
        return _StartRun(context, runtime, runtime.tenant(tenant), name, config_id).materialize()

    return _start


class _StartRun:
    """One materialization of a startable workflow (the op's body, in steps)."""

    def __init__(self, context: AssetExecutionContext, runtime: OpsRuntime, tenant: TenantConfig,
                 name: str, config_id: str) -> None:
        self.context = context
        self.runtime = runtime
        self.tenant = tenant
        self.name = name
        self.config_id = config_id
        self.options = runtime.config.start
        self.stopped = False

    def materialize(self) -> MaterializeResult:
        with self.runtime.client(self.tenant.name) as client:
            started = self._start(client)
            self._claim(started.run.id)
            ended = False
            try:
                end = self._wait(client, started)
                ended = end.reason != "timeout"
            finally:
                if not ended:  # still running: the asset event sensor reports its end
                    self._release(started.run.id)
        return self._result(started, end)

    def _claim(self, run_id: str) -> None:
        """Record this run's materialization as ours, so the asset event sensor does not
        report it a second time (it still reports the run's checks)."""
        self.runtime.store.record_reported(
            self.tenant.name, [(run_id, MATERIALIZED, workflow_ref(self.name), None)],
            now=self.runtime.clock())

    def _release(self, run_id: str) -> None:
        try:
            self.runtime.store.forget_reported(self.tenant.name, run_id, MATERIALIZED)
        except Exception as err:  # the step's own error matters more; say why, go on
            self.context.log.warning(f"could not release the claim on {run_id}: {err}")

    def _api_failure(self, err: AmperityError) -> Failure:
        # An unknown outcome must not be retried by Dagster: a retry could start it twice.
        return Failure(
            description=f"Amperity API, tenant {self.tenant.name}: "
            f"{describe_tenant_error(self.tenant, err)}",
            allow_retries=not isinstance(err, OutcomeUnknownError),
        )

    def _start(self, client: AmperityClient) -> StartedRun:
        try:
            started = start_or_attach(client, name=self.name, config_id=self.config_id,
                                      now=self.runtime.clock())
        except AmperityError as err:
            raise self._api_failure(err) from err
        run = started.run
        self.context.instance.add_run_tags(
            self.context.run.run_id, {WORKFLOW_ID_TAG: run.id, TENANT_TAG: self.tenant.name})
        how = "attached to the run in flight" if started.attached else "started"
        self.context.log.info(f"{self.name}: {how} {run.id} ({run.state.raw}); "
                              f"{self.tenant.run_link(run.id) or ''}".rstrip())
        return started

    def _log_read(self, run: WorkflowRun, changed: bool) -> None:
        if changed:
            self.context.log.info(state_line(run, self.runtime.clock()))

    def _terminating(self) -> bool:
        record = self.context.instance.get_run_by_id(self.context.run.run_id)
        return record is not None and record.status in _TERMINATING

    def _wait(self, client: AmperityClient, started: StartedRun) -> WaitEnd:
        try:
            end = wait_for_end(
                client, started.run, timeout=self.options.timeout,
                poll_interval=self.options.poll_interval, sleep=self.runtime.sleep,
                monotonic=self.runtime.monotonic, on_read=self._log_read,
                cancelled=self._terminating,
            )
        except (DagsterExecutionInterruptedError, KeyboardInterrupt):
            # Dagster interrupts a terminated step: stop what we started, then let it end.
            self._stop_on_terminate(client, started)
            raise
        except AmperityError as err:
            raise self._api_failure(err) from err
        if end.reason == "cancelled":
            self._stop_on_terminate(client, started)
            raise Failure(description=f"The Dagster run was terminated while {self.name} "
                          f"{end.run.id} was {end.run.state.raw}.", allow_retries=False)
        return end

    def _stop_on_terminate(self, client: AmperityClient, started: StartedRun) -> None:
        """Stop the Amperity run once, through the stop job's path; never raise from here."""
        run_id = started.run.id
        if self.stopped:
            return
        self.stopped = True
        log = self.context.log
        if started.attached:
            log.warning(f"Dagster run terminated: {run_id} was started elsewhere (attached); "
                        "left running")
            return
        if not self.options.stop_on_terminate:
            log.warning(f"Dagster run terminated: {run_id} left running "
                        "(start.stop_on_terminate is false)")
            return
        requester = terminated_requester(self.context.run.tags, self.context.run.run_id)
        try:
            outcome = stop_with_runtime(
                self.runtime, client, tenant=self.tenant.name, workflow_id=run_id,
                reason=f"Dagster run {self.context.run.run_id} that started it was terminated",
                requester=requester, wait_timeout=STOP_WAIT, poll_interval=_STOP_POLL,
            )
        except Exception as err:  # the termination goes on; say why the stop did not happen
            log.error(f"Dagster run terminated; stopping {run_id} failed: "
                      f"{describe_tenant_error(self.tenant, err)}")
            return
        log.warning(f"Dagster run terminated: {outcome.one_line()}")

    def _result(self, started: StartedRun, end: WaitEnd) -> MaterializeResult:
        run = end.run
        metadata = self._metadata(run, started.attached, end)
        if end.reason == "timeout":
            raise Failure(
                description=f"{self.name} {run.id} had not ended after "
                f"{self.options.timeout} (still {run.state.raw}); it is left running.",
                metadata=metadata,
            )
        verdict = run_end(run)
        if verdict is None:  # cannot happen: the wait ends on a terminal state
            raise Failure(description=f"{self.name} {run.id} is still {run.state.raw}")
        if not verdict.succeeded:
            if verdict.attribution:
                metadata["error_attribution"] = MetadataValue.text(verdict.attribution)
            raise Failure(description=verdict.summary, metadata=metadata)
        self.context.log.info(verdict.summary)
        return MaterializeResult(metadata=metadata)

    def _metadata(self, run: WorkflowRun, attached: bool, end: WaitEnd) -> dict[str, Any]:
        values: dict[str, Any] = {
            "amperity_run_id": MetadataValue.text(run.id),
            "state": MetadataValue.text(run.state.raw),
            "attached": MetadataValue.bool(attached),
            "config_id": MetadataValue.text(self.config_id),
            "reads": MetadataValue.int(end.reads),
        }
        if run.created_at is not None:
            values["started_at"] = MetadataValue.timestamp(run.created_at)
        if run.ended_at is not None:
            values["ended_at"] = MetadataValue.timestamp(run.ended_at)
        runtime = run.runtime(self.runtime.clock())
        if runtime is not None:
            values["runtime_minutes"] = MetadataValue.float(round(runtime.total_seconds() / 60, 2))
        who = run.principal_name or run.principal_email
        if who:
            values["launched_by"] = MetadataValue.text(who)
        link = self.tenant.run_link(run.id)
        if link:
            values["amperity_link"] = MetadataValue.url(link)
        return values
