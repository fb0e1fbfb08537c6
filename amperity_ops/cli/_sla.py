"""The SLA column of ``runs list``: the same rule and verdict the SLA sensor would reach."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from amperity_ops.client import WorkflowRun
from amperity_ops.monitoring.durations import format_duration
from amperity_ops.monitoring.sla import SlaLevel, evaluate_sla, resolve_sla
from amperity_ops.settings import OpsConfig

__all__ = ["sla_cell"]

_LEVEL_STYLES = {SlaLevel.OK: "green", SlaLevel.WARNING: "yellow", SlaLevel.BREACHED: "bold red"}


def sla_cell(config: OpsConfig, run: WorkflowRun, now: datetime) -> Text:
    """``breached +5m 00s  max 20m, policy:courier-groups``, coloured by level.

    The learned baseline is left out here (it needs the store's history); explicit policies and
    Amperity's own ``warn_after_ms`` are shown exactly as the sensor applies them.

    Args:
        config: The policy file.
        run: The run.
        now: The current time (runtime of an active run is measured to it).

    Returns:
        The cell; ``-`` when no SLA applies to the run.
    """
    rule = resolve_sla(run, config)
    if rule is None:
        return Text("-", style="dim")
    verdict = evaluate_sla(run, rule, now)
    text = Text(verdict.level.value, style=_LEVEL_STYLES[verdict.level])
    if verdict.over_by is not None:
        text.append(f" +{format_duration(verdict.over_by)}", style=_LEVEL_STYLES[verdict.level])
    limits = []
    if rule.warn_after is not None:
        limits.append(f"warn {format_duration(rule.warn_after)}")
    if rule.max_runtime is not None:
        limits.append(f"max {format_duration(rule.max_runtime)}")
    if rule.action == "stop":
        limits.append("stop")
    text.append(f"  {', '.join(limits)}, {rule.label}", style="dim")
    return text
