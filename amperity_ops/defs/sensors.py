"""The SLA sensor and the ingest sensor: thin loops over ``amperity_ops.services``.

Each tick works within a time budget well inside Dagster's tick limit and keeps a typed cursor
(a pydantic model as JSON). A cursor that cannot be read is logged and replaced by a fresh one:
the history store, not the cursor, is what prevents a second alert or a second stop, so
starting fresh is always safe.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at decoration time.

import warnings
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dagster import (
    BetaWarning,
    DagsterInstance,
    DagsterInvariantViolationError,
    DagsterRunStatus,
    DefaultSensorStatus,
    JobDefinition,
    ResourceParam,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from pydantic import BaseModel, ConfigDict, ValidationError

from amperity_ops.core import Requester
from amperity_ops.core.clock import clock_mark
from amperity_ops.core.durations import format_duration
from amperity_ops.defs.instance_names import resource_key_for, sensor_resource, suffixed
from amperity_ops.defs.jobs import (
    REQUESTED_BY_TAG,
    STOP_JOB_NAME,
    STOP_OP_NAME,
    stop_amperity_workflow_run,
    stop_run_config,
    stop_run_tags,
)
from amperity_ops.defs.stop_batch_job import (
    BATCH_STOP_JOB_NAME,
    BATCH_STOP_OP_NAME,
    STOP_COUNT_TAG,
    batch_stop_run_config,
    stop_amperity_workflow_runs,
)
from amperity_ops.monitoring.stop_batches import split_into_batches
from amperity_ops.monitoring.stop_retry import JobState
from amperity_ops.services.ingest_guard import run_ingest_tick
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.sla_guard import StopToRequest, lost_stop_requests, run_sla_tick

__all__ = [
    "INGEST_SENSOR_NAME",
    "SLA_SENSOR_NAME",
    "SensorCursor",
    "amperity_ingest_sensor",
    "amperity_workflow_sla_sensor",
    "build_ingest_sensor",
    "build_sla_sensor",
    "ingest_sensor_tick",
    "not_due_yet",
    "read_cursor",
    "silence_owners_beta_warning",
    "sla_sensor_tick",
]

SLA_SENSOR_NAME = "amperity_workflow_sla_sensor"
INGEST_SENSOR_NAME = "amperity_ingest_sensor"
DEFAULT_INTERVAL_S = 60
"""The SLA sensor's interval when no policy file is read at load (the ingest sensor: twice it).

Dagster fixes a sensor's ``minimum_interval_seconds`` when the code location loads, so
:func:`~amperity_ops.defs.factory.build_amperity_defs` builds both sensors from the policy
file's ``sensor.interval`` when it reads one there; the cursor (:func:`not_due_yet`) keeps the
same interval at tick time, for a file that changed after the load."""
OWNERS = ["team:data-platform"]
"""The same owners as the assets, so the sensors show who to call."""


def silence_owners_beta_warning() -> None:
    """Ignore Dagster's BetaWarning about ``owners`` on sensors, and nothing else.

    ``owners`` on a sensor is a Dagster beta parameter: Dagster warns on every load and every
    run (an on-call's dagster.log filled with it). Installed when this module is imported.
    """
    warnings.filterwarnings(
        "ignore",
        message=r"Parameter `owners` of (function `sensor`|initializer "
        r"`SensorDefinition.__init__`)",
        category=BetaWarning,
    )


silence_owners_beta_warning()
INTERVAL_SLACK = timedelta(seconds=5)
"""Dagster's evaluations drift by a second or two: a tick this close to due counts as due."""


class SensorCursor(BaseModel):
    """What a sensor remembers between ticks (the store remembers everything else)."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    resume_tenant: str | None = None
    """The tenant to start with: the previous tick ran out of time before reaching it."""
    last_tick_at: datetime | None = None
    """When the previous tick started (UTC)."""
    ticks: int = 0

    def after(self, now: datetime, resume_tenant: str | None) -> str:
        """The next tick's cursor, as JSON: this tick did its work at ``now``."""
        return SensorCursor(
            resume_tenant=resume_tenant, last_tick_at=now, ticks=self.ticks + 1
        ).model_dump_json()


def not_due_yet(cursor: SensorCursor, now: datetime, interval: timedelta,
                time_mark: str = "") -> str | None:
    """Why this evaluation does no work (``sensor.interval`` not yet elapsed), or None.

    Args:
        cursor: The sensor's cursor (``last_tick_at`` is the last tick that did work).
        now: The runtime's clock.
        interval: ``sensor.interval`` from the policy file.
        time_mark: ``core.clock.clock_mark`` of that clock (`` (sim)`` in the demo).
    """
    if cursor.last_tick_at is None or cursor.last_tick_at > now:
        return None  # first tick, or the clock went back (another clock): never stall
    due = cursor.last_tick_at + interval - INTERVAL_SLACK
    if now >= due:
        return None
    return (
        f"waiting: sensor.interval is {format_duration(interval)}; the last check was at "
        f"{cursor.last_tick_at:%H:%M:%S} UTC{time_mark}, the next is due at "
        f"{cursor.last_tick_at + interval:%H:%M:%S} UTC{time_mark}"
    )


def read_cursor(context: SensorEvaluationContext) -> SensorCursor:
    """The sensor's cursor; an unreadable one is logged and replaced by a fresh one."""
    if not context.cursor:
        return SensorCursor()
    try:
        return SensorCursor.model_validate_json(context.cursor)
    except ValidationError as err:
        context.log.warning(
            "unreadable cursor, starting fresh (safe: the store de-duplicates alerts and "
            "stops): %s",
            err.errors(include_url=False, include_input=False)[:1],
        )
        return SensorCursor()


def _begin(
    context: SensorEvaluationContext, runtime: OpsRuntime
) -> tuple[SensorCursor, datetime, str | None]:
    """The cursor, the tick's time, and why no work is due yet (None: due)."""
    cursor = read_cursor(context)
    now = runtime.clock()
    return cursor, now, not_due_yet(cursor, now, runtime.config.sensor.interval,
                                    clock_mark(runtime.clock))


def _budget_s(runtime: OpsRuntime) -> float:
    return runtime.config.sensor.time_budget.total_seconds()


@sensor(
    name=SLA_SENSOR_NAME,
    jobs=[stop_amperity_workflow_run, stop_amperity_workflow_runs],
    minimum_interval_seconds=DEFAULT_INTERVAL_S,
    default_status=DefaultSensorStatus.RUNNING,
    owners=OWNERS,
    description=(
        "Reads only the active workflow runs of every tenant, measures them against their SLA, "
        "sends warning / breached / resolved alerts through the outbox, and requests the stop "
        "job for runs whose policy says action: stop (within auto_stop's guard rails)."
    ),
)
def amperity_workflow_sla_sensor(
    context: SensorEvaluationContext, amperity_ops: ResourceParam[OpsRuntime]
) -> SensorResult:
    """One SLA tick: read active runs, alert, request stops."""
    return sla_sensor_tick(context, amperity_ops)


def sla_sensor_tick(
    context: SensorEvaluationContext,
    runtime: OpsRuntime,
    *,
    sensor_name: str = SLA_SENSOR_NAME,
    job_name: str = STOP_JOB_NAME,
    op_name: str = STOP_OP_NAME,
    batch_job_name: str = BATCH_STOP_JOB_NAME,
    batch_op_name: str = BATCH_STOP_OP_NAME,
) -> SensorResult:
    """The SLA sensor's tick, for the plain sensor or an instance's renamed one.

    Args:
        context: The sensor's context (cursor, instance, log).
        runtime: The instance's runtime.
        sensor_name: Recorded as who asked for a stop.
        job_name: The stop job the run requests launch.
        op_name: The stop op its run config addresses.
        batch_job_name: The batch stop job, for a tick with many stops (``stop_batches``).
        batch_op_name: Its op.
    """
    cursor, now, waiting = _begin(context, runtime)
    if waiting is not None:
        return SensorResult(skip_reason=SkipReason(waiting), cursor=cursor.model_dump_json())
    # Imported here: the store's drivers stay out of the code location's load time.
    from amperity_ops.store.failures import store_failures_named

    # A store that fails mid-tick (down, full) fails the tick with one line naming it; no
    # RunRequest leaves a tick whose ledger writes did not all happen.
    with store_failures_named(runtime.store.url):
        result = run_sla_tick(runtime, now=now, budget_s=_budget_s(runtime),
                              resume_tenant=cursor.resume_tenant,
                              last_tick_at=cursor.last_tick_at,
                              job_state=_job_state_reader(context))
        headline = result.headline()
        if headline is not None:
            context.log.warning(headline)
        for level, line in result.log_records():
            context.log.log(level, line)
        stops = result.stop_requests + _lost_stops(context, runtime, now)
        auto_stop = runtime.config.auto_stop
        single, batches = split_into_batches(stops, above=auto_stop.batch_above,
                                             size=auto_stop.batch_size)
        for batch in batches:  # each row remembers its carrier before the request leaves
            runtime.store.mark_stops_launched_as(
                [(s.tenant, s.run_key) for s in batch.stops], batch.run_key)
    new_cursor = cursor.after(now, result.resume_tenant)
    requested_by = Requester.sensor(sensor_name).label
    requests = [
        RunRequest(
            run_key=stop.run_key,
            job_name=job_name,
            run_config=stop_run_config(
                workflow_id=stop.workflow_id,
                reason=stop.reason,
                tenant=stop.tenant,
                requested_by=requested_by,
                op_name=op_name,
            ),
            tags=stop_run_tags(workflow_id=stop.workflow_id, tenant=stop.tenant,
                               requested_by=requested_by),
        )
        for stop in single
    ]
    for batch in batches:
        context.log.info(f"{len(batch.stops)} stops ({', '.join(batch.tenants[:5])}"
                         f"{' ...' if len(batch.tenants) > 5 else ''}) in batch run "
                         f"{batch.run_key}")
        requests.append(RunRequest(
            run_key=batch.run_key,
            job_name=batch_job_name,
            run_config=batch_stop_run_config(
                [{"workflow_id": s.workflow_id, "tenant": s.tenant, "reason": s.reason}
                 for s in batch.stops],
                requested_by=requested_by, op_name=batch_op_name),
            tags={REQUESTED_BY_TAG: requested_by, STOP_COUNT_TAG: str(len(batch.stops))},
        ))
    if requests:
        return SensorResult(run_requests=requests, cursor=new_cursor)
    # The tick list shows a skipped tick's reason: counts of what was alerted come first.
    text = result.summary() if headline is None else f"{headline} | {result.summary()}"
    return SensorResult(skip_reason=SkipReason(text), cursor=new_cursor)


_JOB_STATES = {
    DagsterRunStatus.SUCCESS: JobState.SUCCEEDED,
    DagsterRunStatus.FAILURE: JobState.FAILED,
    DagsterRunStatus.CANCELED: JobState.CANCELED,
}
"""Dagster's ended run statuses; every other one (queued, starting, started, canceling ...)
is a stop job still in flight."""


def job_state_of(instance: DagsterInstance, run_key: str) -> JobState:
    """What Dagster says of the newest stop job run with this run key."""
    runs = instance.get_runs(filters=RunsFilter(tags={"dagster/run_key": run_key}), limit=1)
    if not runs:
        return JobState.MISSING
    return _JOB_STATES.get(runs[0].status, JobState.IN_FLIGHT)


def _job_state_reader(context: SensorEvaluationContext) -> Callable[[str], JobState] | None:
    """The instance's view of stop job runs (None in a test context without an instance)."""
    try:
        instance = context.instance
    except DagsterInvariantViolationError:
        return None
    return lambda run_key: job_state_of(instance, run_key)


def _lost_stops(
    context: SensorEvaluationContext, runtime: OpsRuntime, now: datetime
) -> list[StopToRequest]:
    """Recorded stops that never became a run (see ``lost_stop_requests``), asked once more."""
    try:
        instance = context.instance
    except DagsterInvariantViolationError:  # a test context without an instance
        return []

    def job_exists(run_key: str) -> bool:
        found = instance.get_run_records(
            filters=RunsFilter(tags={"dagster/run_key": run_key}), limit=1
        )
        return bool(found)

    lost = lost_stop_requests(runtime, now=now, job_exists=job_exists)
    for stop in lost:
        context.log.warning(f"stop {stop.run_key} was recorded but never launched: asking again")
    return lost


@sensor(
    name=INGEST_SENSOR_NAME,
    minimum_interval_seconds=DEFAULT_INTERVAL_S * 2,
    default_status=DefaultSensorStatus.RUNNING,
    owners=OWNERS,
    description=(
        "Reads ingest jobs created since its last tick and alerts (through the outbox) on "
        "failed feeds and on error / reject rates over ingest_thresholds."
    ),
)
def amperity_ingest_sensor(
    context: SensorEvaluationContext, amperity_ops: ResourceParam[OpsRuntime]
) -> SkipReason:
    """One ingest tick: read new ingest jobs, alert on unhealthy feeds."""
    return ingest_sensor_tick(context, amperity_ops)


def ingest_sensor_tick(context: SensorEvaluationContext, runtime: OpsRuntime) -> SkipReason:
    """The ingest sensor's tick, for the plain sensor or an instance's renamed one."""
    cursor, now, waiting = _begin(context, runtime)
    if waiting is not None:
        return SkipReason(waiting)
    from amperity_ops.store.failures import store_failures_named

    with store_failures_named(runtime.store.url):  # one line naming the store, as the SLA tick
        result = run_ingest_tick(runtime, now=now, budget_s=_budget_s(runtime),
                                 resume_tenant=cursor.resume_tenant)
    for title in result.alerted:
        context.log.warning(f"alert: {title}")
    context.log.info(result.summary())
    context.update_cursor(cursor.after(now, result.resume_tenant))
    if result.alerted:  # counts first, as on the SLA sensor's ticks
        return SkipReason(f"ALERTED: {len(result.alerted)} ingest | {result.summary()}")
    return SkipReason(result.summary())


def build_sla_sensor(
    name_suffix: str, stop_job: JobDefinition, batch_job: JobDefinition,
    interval_s: int = DEFAULT_INTERVAL_S,
) -> SensorDefinition:
    """An instance's SLA sensor: ``amperity_workflow_sla_sensor<suffix>``, its own resource.

    Args:
        name_suffix: The instance's suffix ("" gives the plain sensor).
        stop_job: The instance's stop job (its runs are what the sensor requests).
        batch_job: The instance's batch stop job (many stops in one tick).
        interval_s: How often Dagster evaluates it (``sensor.interval`` read at load).
    """
    if not name_suffix and interval_s == DEFAULT_INTERVAL_S:
        return amperity_workflow_sla_sensor
    rk = resource_key_for(name_suffix)
    name = suffixed(SLA_SENSOR_NAME, name_suffix)
    op_name = suffixed(STOP_OP_NAME, name_suffix)
    batch_op_name = suffixed(BATCH_STOP_OP_NAME, name_suffix)

    @sensor(name=name, jobs=[stop_job, batch_job], minimum_interval_seconds=interval_s,
            default_status=DefaultSensorStatus.RUNNING, owners=OWNERS,
            required_resource_keys={rk},
            description=_instance_description(amperity_workflow_sla_sensor, name_suffix))
    def _sla(context: SensorEvaluationContext, **resources: Any) -> SensorResult:
        return sla_sensor_tick(context, sensor_resource(context, resources, rk), sensor_name=name,
                               job_name=stop_job.name, op_name=op_name,
                               batch_job_name=batch_job.name, batch_op_name=batch_op_name)

    return _sla


def _instance_description(plain: SensorDefinition, name_suffix: str) -> str:
    text = plain.description or ""
    return f"{text} Instance `{name_suffix}`." if name_suffix else text


def build_ingest_sensor(
    name_suffix: str, interval_s: int = DEFAULT_INTERVAL_S
) -> SensorDefinition:
    """An instance's ingest sensor: ``amperity_ingest_sensor<suffix>``, its own resource.

    Args:
        name_suffix: The instance's suffix ("" gives the plain sensor).
        interval_s: The SLA sensor's interval; the ingest sensor runs at twice it.
    """
    if not name_suffix and interval_s == DEFAULT_INTERVAL_S:
        return amperity_ingest_sensor
    rk = resource_key_for(name_suffix)

    @sensor(name=suffixed(INGEST_SENSOR_NAME, name_suffix),
            minimum_interval_seconds=interval_s * 2,
            default_status=DefaultSensorStatus.RUNNING, owners=OWNERS,
            required_resource_keys={rk},
            description=_instance_description(amperity_ingest_sensor, name_suffix))
    def _ingest(context: SensorEvaluationContext, **resources: Any) -> SkipReason:
        return ingest_sensor_tick(context, sensor_resource(context, resources, rk))

    return _ingest
