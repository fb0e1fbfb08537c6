"""Whether the SLA sensor may stop a run: every guard rail in one pure function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from amperity_ops.monitoring.durations import format_duration
from amperity_ops.monitoring.sla import SlaEvaluation, SlaLevel

if TYPE_CHECKING:
    from amperity_ops.settings import AutoStopConfig

__all__ = ["StopDecision", "decide_stop", "stop_run_key"]


def stop_run_key(tenant: str, workflow_id: str) -> str:
    """The Dagster run key of the stop job for one run: ``stop:<tenant>:<workflow id>``."""
    return f"stop:{tenant}:{workflow_id}"


@dataclass(frozen=True)
class StopDecision:
    """What to do about one run.

    ``kind``: ``request`` (launch the stop job), ``dry_run`` (say what would be stopped and
    record it), ``held`` (the policy wants a stop but a guard rail holds it back; ``reason``
    says which), or ``none`` (no stop is called for).
    """

    kind: Literal["request", "dry_run", "held", "none"]
    reason: str


def decide_stop(
    evaluation: SlaEvaluation,
    auto_stop: AutoStopConfig,
    *,
    stops_in_last_hour: int,
    already_requested: bool,
    already_noted_dry_run: bool = False,
) -> StopDecision:
    """Decide whether to stop a run, checking every guard rail.

    Args:
        evaluation: The run's SLA evaluation (its rule must say ``action: stop``).
        auto_stop: enabled / dry_run / max_stops_per_hour.
        stops_in_last_hour: Real (not dry-run) stops of this tenant in the past hour, counting
            the ones already planned in this tick.
        already_requested: A real stop was already requested for this run (a dry-run note
            does not count: turning dry run off must still stop the run).
        already_noted_dry_run: A dry-run note ("would have stopped") was already recorded for
            this run; in dry run it is not noted again.

    Returns:
        The decision and a reason a person can read.
    """
    run, rule = evaluation.run, evaluation.rule
    if rule is None or rule.action != "stop" or evaluation.level is not SlaLevel.BREACHED:
        return StopDecision("none", "no stop policy breached")
    if already_requested:
        return StopDecision("none", f"a stop of {run.id} was already requested")
    if not run.state.is_stoppable:
        # Unknown, finalizing, stopping, scheduled...: never stop what we do not recognise.
        return StopDecision("held", f"{run.id} is {run.state.raw!r}, not a stoppable state")
    if not auto_stop.enabled:
        return StopDecision("held", f"auto_stop is disabled; {run.id} would be stopped")
    why = (f"{run.name} ({run.id}) has run {format_duration(evaluation.runtime)}, over "
           f"max_runtime {format_duration(rule.max_runtime)} of {rule.label}")
    if auto_stop.dry_run:
        if already_noted_dry_run:
            return StopDecision("none", f"dry run: {run.id} was already reported")
        return StopDecision("dry_run", f"dry run: would have stopped {why}")
    if stops_in_last_hour >= auto_stop.max_stops_per_hour:
        return StopDecision(
            "held",
            f"hourly cap reached ({stops_in_last_hour}/{auto_stop.max_stops_per_hour} stops "
            f"in the last hour); not stopping {run.id}",
        )
    return StopDecision("request", why)
