"""Failure alerts: a run that ended ``failed`` without ever being late gets one alert.

The SLA tick already lists the runs that ended since the previous tick (for the resolves), so
the failures cost no request. A run that was alerted as late is left alone here: its RESOLVED
message is already a failure (``kind: failure``, ``monitoring.alert_text``), so the on-call
hears of each failed run once. Rules route these by ``kind: failure``, ``level: failed`` and
``attribution`` (customer or platform), like every other alert.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta

from amperity_ops.client.models import StateKind, WorkflowRun
from amperity_ops.core.alerts import AlertLevel, AlertMessage, dedup_key
from amperity_ops.core.durations import format_duration
from amperity_ops.monitoring.alert_text import alert_text

__all__ = ["FAILED_RUN_MAX_AGE", "failed_alert_message", "failure_alerts", "failure_candidates"]

FAILED_RUN_MAX_AGE = timedelta(hours=1)
"""A run that ended longer ago than this is never alerted as failed: after a long pause (or a
re-read of an old run) a page about yesterday's failure only wakes someone for history."""


def failure_candidates(runs: Iterable[WorkflowRun], *, tracked: Collection[str],
                       now: datetime) -> list[WorkflowRun]:
    """The runs this tick could alert as failed: ended ``failed`` within the last hour and
    without an open alert track (an alerted run's RESOLVED message says it failed).

    Args:
        runs: The runs the tick observed.
        tracked: Run ids with an open alert track.
        now: The tick's time.
    """
    return [
        run for run in runs
        if run.state.kind is StateKind.FAILED and run.id not in tracked
        and (run.ended_at is None or now - run.ended_at <= FAILED_RUN_MAX_AGE)
    ]


def failure_alerts(
    tenant: str,
    candidates: Iterable[WorkflowRun],
    *,
    already_alerted: Collection[str],
    now: datetime,
    link_for: Callable[[str], str | None],
) -> list[AlertMessage]:
    """One ``failed`` message per candidate whose dedup key has no alert yet.

    Args:
        tenant: The tenant's name.
        candidates: From :func:`failure_candidates`.
        already_alerted: Dedup keys with any message in the outbox (a failure already sent,
            held or silenced, or a late run's alerts): the ended listing overlaps the previous
            tick's, so a failure is seen twice.
        now: When the messages are raised.
        link_for: The run's link in the Amperity app, if known.
    """
    return [
        failed_alert_message(tenant, run, now=now, link=link_for(run.id))
        for run in candidates
        if dedup_key(tenant, run.id) not in already_alerted
    ]


def failed_alert_message(
    tenant: str, run: WorkflowRun, *, now: datetime, link: str | None = None
) -> AlertMessage:
    """``FAILED: Daily Ecommerce Sources (platform): TaskFailed: Spark executor lost``.

    The attribution goes in the title: it says whose problem it is (Amperity's platform or
    the customer's data and config) before anyone opens the message.

    Args:
        tenant: The tenant's name.
        run: The run, ended failed.
        now: When the message is raised.
        link: The run in the Amperity app, if known.
    """
    error = run.error
    attribution = error.attribution if error is not None else None
    what = f"{error.type}: {error.message}" if error is not None else "no error detail sent"
    whose = f" ({attribution})" if attribution else ""
    title = f"FAILED: {run.name}{whose}: {what}"
    runtime = run.runtime(now)
    facts = [
        ("Tenant", tenant),
        ("Run", run.id),
        ("State", run.state.raw),
        ("Runtime", format_duration(runtime)),
        ("Error", what),
        ("Attribution", attribution or "not given"),
    ]
    return AlertMessage(
        tenant=tenant,
        workflow_id=run.id,
        workflow_name=run.name,
        level=AlertLevel.FAILED,
        title=title,
        text=alert_text(title, facts, link),
        dedup_key=dedup_key(tenant, run.id),
        raised_at=now,
        state=run.state.raw,
        runtime_s=runtime.total_seconds() if runtime is not None else None,
        link=link,
        facts=tuple(facts),
        kind="failure",
        workflow_type=run.type,
        attribution=attribution,
    )
