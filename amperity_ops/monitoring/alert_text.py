"""Render decisions into :class:`AlertMessage` s with the numbers and the link a person needs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from amperity_ops.client.models import StateKind, WorkflowRun
from amperity_ops.core.alerts import AlertLevel, AlertMessage, dedup_key
from amperity_ops.core.durations import format_duration
from amperity_ops.core.wording import data_note, late_title
from amperity_ops.monitoring.sla import SlaEvaluation

__all__ = ["alert_text", "run_alert_message", "vanished_alert_message"]


def alert_text(title: str, facts: Iterable[tuple[str, str]], link: str | None) -> str:
    """A message's text as every alert lays it out: the title, ``Label: value`` lines, the link."""
    lines = [title, *(f"{label}: {value}" for label, value in facts)]
    if link:
        lines.append(f"Open in Amperity: {link}")
    return "\n".join(lines)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def run_alert_message(
    tenant: str,
    run: WorkflowRun,
    evaluation: SlaEvaluation,
    level: AlertLevel,
    *,
    now: datetime,
    link: str | None = None,
    ended_reason: str | None = None,
    action: str | None = None,
) -> AlertMessage:
    """Build the message about one run at one level.

    Args:
        tenant: The tenant's name.
        run: The run as last seen.
        evaluation: Its SLA evaluation (runtime, thresholds, how far over).
        level: warning, breached or resolved.
        now: When the message is raised.
        link: The run in the Amperity app, if known.
        ended_reason: For ``resolved``: how it ended (``ended: succeeded``, ``stopped by
            amperity-ops (sensor, SLA policy x, 19m over)``).
        action: What this tick did about the run (``stop requested``, ``stop held back: dry
            run``, ``alert only``), from ``StopDecision.action``; shown as the Action fact.

    Returns:
        The message, with title, text and facts filled in.
    """
    rule = evaluation.rule
    # A run that ended failed closes its alert as a failure: rules route it apart (level
    # ``failed``, kind ``failure``), e.g. platform-attributed failures to the platform team.
    ended_failed = level is AlertLevel.RESOLVED and run.state.kind is StateKind.FAILED
    warn = rule.warn_after if rule else None
    limit = rule.max_runtime if rule else None
    runtime = format_duration(evaluation.runtime)
    if level is AlertLevel.BREACHED:
        title = late_title(level.value, run.name, evaluation.runtime, limit, evaluation.over_by)
    elif level is AlertLevel.WARNING:
        title = late_title(level.value, run.name, evaluation.runtime, warn, evaluation.over_by)
    else:
        title = f"RESOLVED: {run.name} {ended_reason or 'ended'} after {runtime}"
    facts = [
        ("Tenant", tenant),
        ("Run", run.id),
        ("State", run.state.raw),
        ("Runtime", runtime),
        ("Warn after", format_duration(warn)),
        ("Max runtime", format_duration(limit)),
        ("SLA from", rule.label if rule else "-"),
    ]
    if action:
        facts.append(("Action", action))
    if run.problems:  # an odd record: say what Amperity did not send, so nobody trusts a gap
        facts.append(("Data", data_note(run, run.problems)))
    return AlertMessage(
        tenant=tenant,
        workflow_id=run.id,
        workflow_name=run.name,
        level=level,
        title=title,
        text=alert_text(title, facts, link),
        dedup_key=dedup_key(tenant, run.id),
        raised_at=now,
        state=run.state.raw,
        runtime_s=_seconds(evaluation.runtime),
        warn_after_s=_seconds(warn),
        max_runtime_s=_seconds(limit),
        over_by_s=_seconds(evaluation.over_by) if level is not AlertLevel.RESOLVED else None,
        sla_source=rule.label if rule else None,
        link=link,
        facts=tuple(facts),
        kind="failure" if ended_failed else "sla",
        workflow_type=run.type,
        attribution=run.error.attribution if run.error is not None else None,
    )


def vanished_alert_message(
    tenant: str, workflow_id: str, workflow_name: str, *, now: datetime, link: str | None = None
) -> AlertMessage:
    """The ``resolved`` message for an alerted run that is no longer listed as active.

    Args:
        tenant: The tenant's name.
        workflow_id: The run id.
        workflow_name: Its name as remembered on the alert track.
        now: When the message is raised.
        link: The run in the Amperity app, if known.
    """
    name = workflow_name or workflow_id
    title = f"RESOLVED: {name} is no longer listed as active"
    facts = (("Tenant", tenant), ("Run", workflow_id))
    return AlertMessage(
        tenant=tenant,
        workflow_id=workflow_id,
        workflow_name=name,
        level=AlertLevel.RESOLVED,
        title=title,
        text=alert_text(title, facts, link),
        dedup_key=dedup_key(tenant, workflow_id),
        raised_at=now,
        link=link,
        facts=facts,
    )
