"""Decisions of a workflow start from Dagster: attach or start, and what an ended run means.

Pure: the runs are read by ``services/start.py`` and given here; nothing is sent from here.

* A workflow already in flight is attached to, never started a second time: the newest active
  run of the same workflow (by ``config_id`` where the API says it, else by name).
* A run that ended ``succeeded`` is a materialization; any other end (failed, stopped,
  skipped, canceled) is a failure carrying Amperity's error and its attribution.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from amperity_ops.client import StateKind, WorkflowRun
from amperity_ops.core.durations import format_duration

__all__ = ["RunEnd", "in_flight_run", "run_end", "state_line"]


def _same_workflow(run: WorkflowRun, *, config_id: str, name: str) -> bool:
    """By config id when the run carries one (not in the documented schema), else by name."""
    run_config = (run.model_extra or {}).get("config_id")
    if run_config:
        return bool(run_config == config_id)
    return run.name == name


def in_flight_run(
    runs: Iterable[WorkflowRun], *, config_id: str, name: str
) -> WorkflowRun | None:
    """The run of this workflow to attach to instead of starting another one.

    Args:
        runs: Recent runs of the tenant (any workflow, any state).
        config_id: The workflow's config id.
        name: The workflow's name.

    Returns:
        The newest active run of that workflow (a run in an unknown state counts as active:
        starting a second one beside it is the mistake to avoid), or None.
    """
    candidates = [
        run for run in runs
        if (run.state.is_active or run.state.is_unknown) and run.ended_at is None
        and _same_workflow(run, config_id=config_id, name=name)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda r: (r.created_at is not None, r.created_at or 0, r.id))


@dataclass(frozen=True)
class RunEnd:
    """How an Amperity run that ended reads to Dagster."""

    succeeded: bool
    summary: str
    """One line: ``<name> <run id> failed after 12m: <type>: <message> (customer)``."""
    error_type: str | None = None
    error_message: str | None = None
    attribution: str | None = None


def run_end(run: WorkflowRun) -> RunEnd | None:
    """What a run that ended means: success, or a failure with Amperity's error; None if active.

    Args:
        run: The run as last read.

    Returns:
        None while the run has not ended (an unknown state is waited on, never judged).
    """
    if not run.state.is_terminal:
        return None
    took = ""
    if run.created_at is not None and run.ended_at is not None:
        took = f" after {format_duration(run.ended_at - run.created_at)}"
    head = f"{run.name} {run.id} {run.state.raw}{took}"
    if run.state.kind is StateKind.SUCCEEDED:
        return RunEnd(succeeded=True, summary=head)
    error = run.error
    if error is None:
        return RunEnd(succeeded=False, summary=f"{head} (Amperity gave no error)")
    who = f" ({error.attribution})" if error.attribution else ""
    return RunEnd(
        succeeded=False,
        summary=f"{head}: {error.type}: {error.message}{who}",
        error_type=error.type,
        error_message=error.message,
        attribution=error.attribution,
    )


def state_line(run: WorkflowRun, now: datetime) -> str:
    """One log line for a state read: ``wf-... running for 12m 30s (task 2/4: Loading feeds)``."""
    runtime = run.runtime(now)
    took = f" for {format_duration(runtime)}" if runtime is not None else ""
    tasks = run.tasks
    step = ""
    if tasks:
        active = [t for t in tasks if t.state.is_active]
        current = active[0] if active else tasks[-1]
        step = f" (task {tasks.index(current) + 1}/{len(tasks)}: {current.label or current.id})"
    return f"{run.name} {run.id} {run.state.raw}{took}{step}"
