"""Which Amperity outcomes to report to Dagster as asset events, each exactly once. Pure.

Inputs are what the history store holds (runs the SLA sensor and the polls keep fresh, ingest
jobs with their feeds) and what was already reported (a store table); the output says, per
asset, what happened and is to be told:

* a succeeded run: a materialization of its workflow's asset, and its checks pass;
* a failed, stopped, skipped or cancelled run: never a materialization; ``last_run_succeeded``
  fails with the error and its attribution;
* a run in flight: ``within_sla`` at each SLA level it reaches (ok, warning, breached);
* a feed that loaded a table successfully: a materialization of the table's asset.

An asset with nothing reported yet (a fresh store) gets only its latest finished run, so the
graph is complete from the first tick without replaying history. Afterwards every finished run
that ended since the last one reported is told, in the order they ended.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from amperity_ops.client.models import IngestFeed, IngestJob, StateKind, WorkflowRun
from amperity_ops.monitoring.sla import SlaEvaluation, SlaLevel

__all__ = [
    "MATERIALIZED",
    "AssetEventPlan",
    "ReportedRow",
    "RunOutcome",
    "SlaCheck",
    "TableLoad",
    "plan_asset_events",
    "table_ref",
    "workflow_ref",
]

MATERIALIZED = "materialized"
LAST_RUN = "check:last_run_succeeded"
FINAL_SLA = "check:within_sla:final"


def workflow_ref(name: str) -> str:
    """How the store names a workflow's asset (independent of the translator's keys)."""
    return f"workflow:{name}"


def table_ref(name: str) -> str:
    """How the store names a table's asset."""
    return f"table:{name}"


@dataclass(frozen=True)
class ReportedRow:
    """One event told to Dagster, as the store remembers it."""

    subject: str
    """The Amperity run id (or ingest job id)."""
    event: str
    asset: str
    happened_at: datetime | None
    """When the run or feed ended (None for a check on a run in flight)."""


@dataclass(frozen=True)
class RunOutcome:
    """A finished run of a workflow: materialized if it succeeded, else its checks fail."""

    name: str
    run: WorkflowRun
    evaluation: SlaEvaluation
    materialize: bool


@dataclass(frozen=True)
class SlaCheck:
    """``within_sla`` of a workflow whose run is in flight, at a new level."""

    name: str
    run: WorkflowRun
    evaluation: SlaEvaluation


@dataclass(frozen=True)
class TableLoad:
    """A feed that loaded a table successfully."""

    table: str
    job: IngestJob
    feed: IngestFeed


@dataclass
class AssetEventPlan:
    """What one tenant's tick reports, and the rows that remember it."""

    outcomes: list[RunOutcome] = field(default_factory=list)
    sla_checks: list[SlaCheck] = field(default_factory=list)
    loads: list[TableLoad] = field(default_factory=list)
    rows: list[ReportedRow] = field(default_factory=list)
    unknown_workflows: set[str] = field(default_factory=set)
    """Workflows that ran but are not in the catalog (no asset to report on)."""

    @property
    def count(self) -> int:
        """How many Dagster events the plan makes."""
        return len(self.outcomes) + len(self.sla_checks) + len(self.loads)


def _finished(run: WorkflowRun) -> bool:
    # A state Amperity added without notice is reported once it has an end: telling Dagster
    # that it did not succeed is never destructive.
    return run.ended_at is not None and (run.state.is_terminal or run.state.is_unknown)


def _pick(
    ref: str,
    items: Sequence[tuple[datetime, str, str, object]],
    latest: tuple[datetime, str, str, object] | None,
    *,
    reported: Collection[tuple[str, str]],
    last_reported: Mapping[str, datetime],
) -> list[tuple[datetime, str, str, object]]:
    """The (ended, subject, event, item) to report for one asset, oldest first."""
    since = last_reported.get(ref)
    if since is None:
        return [] if latest is None or (latest[1], latest[2]) in reported else [latest]
    return sorted(i for i in items if i[0] >= since and (i[1], i[2]) not in reported)


def plan_asset_events(
    *,
    workflows: Collection[str],
    tables: Collection[str],
    finished: Iterable[WorkflowRun],
    latest_finished: Mapping[str, WorkflowRun],
    active: Iterable[WorkflowRun],
    jobs: Iterable[IngestJob],
    reported: Collection[tuple[str, str]],
    last_reported: Mapping[str, datetime],
    evaluate: Callable[[WorkflowRun], SlaEvaluation],
) -> AssetEventPlan:
    """Decide the asset events of one tenant's tick.

    Args:
        workflows: Names of the workflows that have an asset (the catalog's).
        tables: Names of the tables that have an asset.
        finished: Runs that ended since the oldest asset's last report (from the store).
        latest_finished: The latest finished run of each workflow name (for assets with
            nothing reported yet).
        active: Runs in flight, as last seen.
        jobs: Recent ingest jobs with their feeds.
        reported: (subject, event) pairs already told.
        last_reported: Asset ref -> when its latest reported run or feed ended.
        evaluate: The SLA evaluation of a run at the tick's time (resolve + evaluate).

    Returns:
        The plan: outcomes, SLA checks, table loads, and the rows to record.
    """
    plan = AssetEventPlan()
    known = set(workflows)
    by_name: dict[str, list[tuple[datetime, str, str, object]]] = defaultdict(list)
    for run in finished:
        if not _finished(run) or run.ended_at is None:
            continue
        if run.name not in known:
            plan.unknown_workflows.add(run.name)
            continue
        # A run is picked by its last_run check, not its materialization: a run a Dagster run
        # started (a startable asset) has its materialization recorded by that run already,
        # and still gets its checks here.
        by_name[run.name].append((run.ended_at, run.id, LAST_RUN, run))
    for name in sorted(known):
        ref = workflow_ref(name)
        latest_run = latest_finished.get(name)
        latest = (
            (latest_run.ended_at, latest_run.id, LAST_RUN, latest_run)
            if latest_run is not None and latest_run.ended_at is not None and _finished(latest_run)
            else None
        )
        for ended, _subject, _event, item in _pick(ref, by_name.get(name, []), latest,
                                                   reported=reported,
                                                   last_reported=last_reported):
            assert isinstance(item, WorkflowRun)
            success = (item.state.kind is StateKind.SUCCEEDED
                       and (item.id, MATERIALIZED) not in reported)
            plan.outcomes.append(RunOutcome(name, item, evaluate(item), materialize=success))
            plan.rows += [ReportedRow(item.id, event, ref, ended)
                          for event in (MATERIALIZED, LAST_RUN, FINAL_SLA)]

    for run in active:
        if run.name not in known or run.state.is_terminal:
            continue
        evaluation = evaluate(run)
        event = f"check:within_sla:{SlaLevel(evaluation.level).value}"
        if (run.id, event) in reported:
            continue
        plan.sla_checks.append(SlaCheck(run.name, run, evaluation))
        plan.rows.append(ReportedRow(run.id, event, workflow_ref(run.name), None))

    known_tables = set(tables)
    loads: dict[str, list[tuple[datetime, str, str, object]]] = defaultdict(list)
    job_of: dict[str, IngestJob] = {}
    for job in jobs:
        job_of[job.id] = job
        for feed in job.tables:
            if (feed.table_name in known_tables and feed.state.kind is StateKind.SUCCEEDED
                    and feed.ended_at is not None):
                loads[feed.table_name].append(
                    (feed.ended_at, job.id, f"table:{feed.table_name}", feed))
    for table in sorted(known_tables):
        items = loads.get(table, [])
        latest_load = max(items, key=lambda i: (i[0], i[1]), default=None)
        for ended, subject, event, item in _pick(table_ref(table), items, latest_load,
                                                 reported=reported,
                                                 last_reported=last_reported):
            assert isinstance(item, IngestFeed)
            plan.loads.append(TableLoad(table, job_of[subject], item))
            plan.rows.append(ReportedRow(subject, event, table_ref(table), ended))
    return plan
