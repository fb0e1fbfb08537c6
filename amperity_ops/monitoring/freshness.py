"""How fresh a workflow's asset must be: an explicit ``fresh_within``, else its learned cadence.

Pure. Dagster's ``FreshnessPolicy.time_window(fail_window, warn_window)`` is built from the
rule in ``defs/``; the numbers are decided here so they can be tested as a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from amperity_ops.core.durations import format_duration

if TYPE_CHECKING:
    from amperity_ops.monitoring.catalog import CatalogWorkflow
    from amperity_ops.settings import Policy

__all__ = ["LEARNED_FAIL_FACTOR", "LEARNED_WARN_FACTOR", "FreshnessRule", "freshness_rule"]

LEARNED_WARN_FACTOR = 1.25
"""Warning once a quarter of a cycle has passed without a success: a daily workflow that
missed its day is a Warning after 30 h."""
LEARNED_FAIL_FACTOR = 2.0
"""Failing after two cycles without a success: a daily workflow is red after 48 h."""


@dataclass(frozen=True)
class FreshnessRule:
    """The freshness windows of one workflow asset and where they came from."""

    fail_window: timedelta
    warn_window: timedelta | None
    source: Literal["policy", "learned"]
    policy_name: str | None = None
    cadence: timedelta | None = None

    def describe(self) -> str:
        """One sentence for the asset's description."""
        warn = (f"a warning after {format_duration(self.warn_window)}, "
                if self.warn_window is not None else "")
        if self.source == "policy":
            return (f"fresh within {format_duration(self.fail_window)} "
                    f"(fresh_within of policy {self.policy_name})")
        return (f"{warn}stale after {format_duration(self.fail_window)} without a successful run "
                f"(learned: it usually succeeds every {format_duration(self.cadence)})")


def _whole_minutes(value: timedelta) -> timedelta:
    return timedelta(minutes=math.ceil(value.total_seconds() / 60))


def freshness_rule(
    workflow: CatalogWorkflow, policies: Sequence[Policy]
) -> FreshnessRule | None:
    """The freshness of a workflow's asset.

    Args:
        workflow: The catalog's entry (name, type, learned cadence).
        policies: The policy file's policies; the first whose ``match`` fits the workflow is
            its SLA policy, as for its runs.

    Returns:
        The policy's ``fresh_within`` (no warning window) if set; else windows of
        ``LEARNED_WARN_FACTOR`` and ``LEARNED_FAIL_FACTOR`` times the learned cadence; None
        when neither is known (too few successful runs).
    """
    policy = next((p for p in policies if p.match.matches(workflow.name, workflow.type)), None)
    if policy is not None and policy.fresh_within is not None:
        return FreshnessRule(policy.fresh_within, None, "policy", policy_name=policy.name)
    if workflow.cadence is None or workflow.cadence <= timedelta(0):
        return None
    return FreshnessRule(
        fail_window=_whole_minutes(workflow.cadence * LEARNED_FAIL_FACTOR),
        warn_window=_whole_minutes(workflow.cadence * LEARNED_WARN_FACTOR),
        source="learned",
        cadence=workflow.cadence,
    )
