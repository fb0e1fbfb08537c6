"""``silence_amperity_alerts``: silence a run's (or a workflow's) alerts from the Launchpad.

The same service as ``amperity-ops alerts silence``: alerts are recorded but not sent, open
PagerDuty incidents are acknowledged, the silence ends on its own, the resolve still goes out.
A bad request ends the run with one sentence (``Refused: ...``) and no retry.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at decoration time.

from dagster import (
    Config,
    Failure,
    JobDefinition,
    MetadataValue,
    OpExecutionContext,
    ResourceParam,
    job,
    op,
)
from pydantic import Field

from amperity_ops.core.clock import clock_mark
from amperity_ops.core.durations import parse_duration
from amperity_ops.defs.instance_names import resource_key_for, suffixed
from amperity_ops.services.oncall import silence_alerts
from amperity_ops.services.runtime import OpsRuntime

__all__ = [
    "SILENCE_JOB_NAME",
    "SilenceAlertsConfig",
    "build_silence_job",
    "silence_alerts_body",
    "silence_amperity_alerts",
]

SILENCE_JOB_NAME = "silence_amperity_alerts"


class SilenceAlertsConfig(Config):
    """What to silence, for how long and why (the Launchpad shows these fields)."""

    requested_by: str = Field(description="Required: who is silencing (your name or e-mail).")
    reason: str = Field(description="Required: who is handling it and why, in a sentence.")
    duration: str = Field(default="2h", description="How long, e.g. 2h or 90m (at most 7d).")
    run_id: str = Field(default="", description="The workflow run to silence (wf-...); or:")
    workflow: str = Field(default="", description='A glob on workflow names, e.g. "Courier*".')
    tenant: str = Field(default="", description="Only this tenant; empty: every tenant.")
    hold_stops: bool = Field(
        default=False,
        description="Also request no automatic stop of these runs while the silence holds.",
    )


@op(name="silence_alerts", description="Record a silence and acknowledge open pages.")
def silence_alerts_op(context: OpExecutionContext, config: SilenceAlertsConfig,
                      amperity_ops: ResourceParam[OpsRuntime]) -> None:
    """Silence alerts as configured; refuse a bad request in one sentence."""
    silence_alerts_body(context, config, amperity_ops)


def silence_alerts_body(context: OpExecutionContext, config: SilenceAlertsConfig,
                        amperity_ops: OpsRuntime) -> None:
    """The silence op's body (the plain op's and every instance's renamed one)."""
    try:
        if not config.requested_by.strip():
            raise ValueError("requested_by is required (your name or e-mail)")
        outcome = silence_alerts(
            amperity_ops, run_id=config.run_id.strip() or None,
            workflow=config.workflow.strip() or None, tenant=config.tenant.strip() or None,
            duration=parse_duration(config.duration), reason=config.reason,
            requested_by=config.requested_by.strip(), hold_stops=config.hold_stops,
            now=amperity_ops.clock(),
        )
    except (ValueError, KeyError) as err:
        sentence = f"Refused: {str(err).rstrip('.')}."
        raise Failure(description=sentence, allow_retries=False) from None
    s = outcome.silence
    said = s.describe(amperity_ops.clock(), clock_mark(amperity_ops.clock))
    line = f"silence #{s.id}: {s.subject} {said}"
    context.log.info(line)
    context.add_output_metadata({
        "silence": MetadataValue.text(line),
        "alerts held back": MetadataValue.int(outcome.held_back),
        "pages acknowledged": MetadataValue.int(outcome.acknowledged),
    })


@job(name=SILENCE_JOB_NAME, description="Silence a run's or a workflow's alerts for a while "
     "(requested_by, reason, duration, and run_id or workflow).")
def silence_amperity_alerts() -> None:
    """Silence alerts about one run or a workflow glob."""
    silence_alerts_op()


def build_silence_job(name_suffix: str) -> JobDefinition:
    """An instance's silence job: ``silence_amperity_alerts<suffix>``, op
    ``silence_alerts<suffix>``, on the instance's resource ("" gives the plain job)."""
    if not name_suffix:
        return silence_amperity_alerts
    rk = resource_key_for(name_suffix)

    @op(name=suffixed("silence_alerts", name_suffix), description=silence_alerts_op.description,
        required_resource_keys={rk})
    def _silence_op(context: OpExecutionContext, config: SilenceAlertsConfig) -> None:
        silence_alerts_body(context, config, getattr(context.resources, rk))

    @job(name=suffixed(SILENCE_JOB_NAME, name_suffix),
         description=silence_amperity_alerts.description)
    def _silence_job() -> None:
        _silence_op()

    return _silence_job
