"""Whether the SLA sensor may stop a run: every guard rail in one pure function."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from amperity_ops.client.models import StateKind
from amperity_ops.core import Requester, RequesterKind
from amperity_ops.core.wording import overshoot, ran_over_max, stop_at_max
from amperity_ops.monitoring.sla import SlaEvaluation, SlaLevel

if TYPE_CHECKING:
    from amperity_ops.settings import AutoStopConfig

__all__ = ["OurStop", "StopDecision", "decide_stop", "ended_reason", "stop_run_key"]


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
    action: str = "alert only"
    """What an alert about this run says was done: ``stop requested``, ``stop held back: dry
    run``, ``stop held back: hourly cap (5/h)``, ``alert only`` ... (never a hedge)."""


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
    if rule is None or rule.action != "stop":
        return StopDecision("none", "no stop policy breached")
    if evaluation.level is not SlaLevel.BREACHED:
        return StopDecision("none", "no stop policy breached",
                            _planned(rule.max_runtime, auto_stop))
    if already_requested:
        return StopDecision("none", f"a stop of {run.id} was already requested",
                            "stop already requested")
    if not run.state.is_stoppable:
        # Unknown, finalizing, stopping, scheduled...: never stop what we do not recognise.
        return StopDecision("held", f"{run.id} is {run.state.raw!r}, not a stoppable state",
                            f"stop held back: state {run.state.raw!r} is not stoppable")
    if not auto_stop.enabled:
        return StopDecision("held", f"auto_stop is disabled; {run.id} would be stopped",
                            "alert only (auto_stop disabled)")
    why = ran_over_max(f"{run.name} ({run.id})", evaluation.runtime, rule.max_runtime,
                       rule.label)
    if auto_stop.dry_run:
        if already_noted_dry_run:
            return StopDecision("none", f"dry run: {run.id} was already reported",
                                "stop held back: dry run")
        return StopDecision("dry_run", f"dry run: would have stopped {why}",
                            "stop held back: dry run")
    if stops_in_last_hour >= auto_stop.max_stops_per_hour:
        return StopDecision(
            "held",
            f"hourly cap reached ({stops_in_last_hour}/{auto_stop.max_stops_per_hour} stops "
            f"in the last hour); not stopping {run.id}",
            f"stop held back: hourly cap ({auto_stop.max_stops_per_hour}/h)",
        )
    return StopDecision("request", why, "stop requested")


def _planned(max_runtime: timedelta | None, auto_stop: AutoStopConfig) -> str:
    """The action line of a run not yet breached whose policy says ``action: stop``."""
    if max_runtime is None:
        return "alert only"
    if not auto_stop.enabled:
        return "alert only (auto_stop disabled)"
    return stop_at_max(max_runtime, dry_run=auto_stop.dry_run)


@dataclass(frozen=True)
class OurStop:
    """A real stop amperity-ops requested for a run (from the stop ledger)."""

    requester: Requester
    """Who asked: the SLA sensor, the command line, a person (Launchpad)."""
    reason: str
    """The sensor writes ``SLA policy <name>: runtime X over max Y``; a person, free text."""
    policy: str | None = None
    """The policy a sensor stopped the run for (None: the rule the run is measured against)."""


_STOPPED_KINDS = frozenset({StateKind.STOPPED, StateKind.STOPPING})


def ended_reason(evaluation: SlaEvaluation, our_stop: OurStop | None) -> str:
    """How a run that left the active list ended, for the RESOLVED alert's title.

    ``stopped by amperity-ops (sensor, SLA policy ecommerce-sources, 19m over)`` when the stop
    ledger shows we asked for the stop and the run did stop; otherwise ``ended: <state>`` (a
    stop by someone else in Amperity, a success, a failure).

    Args:
        evaluation: The ended run measured against its rule (its final runtime).
        our_stop: Our real stop of this run, if the ledger has one.
    """
    run, rule = evaluation.run, evaluation.rule
    if our_stop is None or run.state.kind not in _STOPPED_KINDS:
        return f"ended: {run.state.raw}"
    parts = [our_stop.requester.short or "unknown"]
    policy = our_stop.policy or (rule.policy_name or rule.label if rule is not None else None)
    if our_stop.requester.kind is RequesterKind.SENSOR and policy:
        parts.append(f"SLA policy {policy}")
    elif our_stop.reason:
        parts.append(f"reason: {our_stop.reason}")
    if rule is not None and rule.max_runtime is not None and evaluation.runtime > rule.max_runtime:
        parts.append(overshoot(evaluation.runtime, rule.max_runtime))
    return f"stopped by amperity-ops ({', '.join(parts)})"
