"""SLA resolution (which rule applies to a run) and evaluation (is it late?).

Precedence, and why: an explicit policy is what a person decided; Amperity's own
``warn_after_ms`` is what the workflow's owner set in Amperity; a learned baseline is only a
guess, so it is opt-in and can only warn. Only explicit policies set a ``max_runtime`` and so
only they can breach (page) or stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from amperity_ops.client.models import WorkflowRun
from amperity_ops.monitoring.stats import percentile

if TYPE_CHECKING:  # settings imports this package; only types are needed here
    from amperity_ops.settings import BaselineConfig, OpsConfig, Policy

__all__ = [
    "SlaEvaluation",
    "SlaLevel",
    "SlaRule",
    "evaluate_sla",
    "learned_warn_after",
    "match_policy",
    "resolve_sla",
]


class SlaLevel(StrEnum):
    """How late a run is, ordered: ok < warning < breached."""

    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"

    @property
    def rank(self) -> int:
        """0, 1, 2: for comparing levels."""
        return ("ok", "warning", "breached").index(self.value)


@dataclass(frozen=True)
class SlaRule:
    """The thresholds that apply to one run, and where they came from."""

    source: Literal["policy", "amperity", "baseline"]
    warn_after: timedelta | None
    max_runtime: timedelta | None = None
    action: Literal["alert", "stop"] = "alert"
    policy_name: str | None = None

    @property
    def label(self) -> str:
        """``policy:<name>``, ``amperity`` or ``baseline``: shown in alerts and metadata."""
        return f"policy:{self.policy_name}" if self.source == "policy" else self.source


@dataclass(frozen=True)
class SlaEvaluation:
    """One run measured against its rule at one instant."""

    run: WorkflowRun
    rule: SlaRule | None
    level: SlaLevel
    runtime: timedelta
    over_by: timedelta | None = None
    """How far past the threshold that set ``level`` (None when ok)."""


def match_policy(run: WorkflowRun, policies: Sequence[Policy]) -> Policy | None:
    """The first policy whose ``match`` fits the run's name and type (first match wins)."""
    for policy in policies:
        if policy.match.matches(run.name, run.type):
            return policy
    return None


def learned_warn_after(
    runtimes_s: Sequence[float], baseline: BaselineConfig
) -> timedelta | None:
    """The learned warning line: pXX of recent successful runtimes times the factor.

    Args:
        runtimes_s: Recent successful runtimes of the workflow, in seconds.
        baseline: Whether it is enabled, the percentile, factor, minimum samples and window.

    Returns:
        The line, or None when disabled or with fewer than ``min_samples`` runtimes.
    """
    if not baseline.enabled or len(runtimes_s) < baseline.min_samples:
        return None
    value = percentile(list(runtimes_s)[: baseline.window], baseline.percentile)
    if value is None or value <= 0:
        return None
    return timedelta(seconds=value * baseline.factor)


def resolve_sla(
    run: WorkflowRun, config: OpsConfig, baseline_runtimes_s: Sequence[float] = ()
) -> SlaRule | None:
    """Which SLA applies: explicit policy, else Amperity's ``warn_after_ms``, else the baseline.

    A policy without ``warn_after`` borrows Amperity's ``warn_after_ms`` as its warning line when
    that is shorter than the policy's ``max_runtime``.

    Args:
        run: The run.
        config: Policies (first match wins) and the baseline settings.
        baseline_runtimes_s: Recent successful runtimes of this workflow, newest first, seconds.

    Returns:
        The rule, or None when nothing applies (the run is then never late).
    """
    policy = match_policy(run, config.policies)
    if policy is not None:
        warn = policy.warn_after
        if warn is None and run.warn_after is not None and policy.max_runtime is not None:
            warn = run.warn_after if run.warn_after < policy.max_runtime else None
        return SlaRule("policy", warn, policy.max_runtime, policy.action, policy.name)
    if run.warn_after is not None and run.warn_after > timedelta(0):
        return SlaRule("amperity", run.warn_after)
    learned = learned_warn_after(baseline_runtimes_s, config.baseline)
    if learned is not None:
        return SlaRule("baseline", learned)
    return None


def evaluate_sla(run: WorkflowRun, rule: SlaRule | None, now: datetime) -> SlaEvaluation:
    """Measure a run against its rule: ok, warning (past warn_after) or breached (past max).

    Args:
        run: The run (its runtime runs to ``ended_at`` if it ended, else to ``now``).
        rule: From :func:`resolve_sla`; None means always ok.
        now: The current time.

    Returns:
        The evaluation, with how far over the crossed threshold the run is.
    """
    runtime = run.runtime(now)
    if runtime is None:  # start unknown: neither within nor over any limit, never stopped
        return SlaEvaluation(run, None, SlaLevel.OK, timedelta(0))
    if rule is not None and rule.max_runtime is not None and runtime > rule.max_runtime:
        return SlaEvaluation(run, rule, SlaLevel.BREACHED, runtime, runtime - rule.max_runtime)
    if rule is not None and rule.warn_after is not None and runtime > rule.warn_after:
        return SlaEvaluation(run, rule, SlaLevel.WARNING, runtime, runtime - rule.warn_after)
    return SlaEvaluation(run, rule, SlaLevel.OK, runtime)
