"""The SLA column of ``runs list``: the same rule and verdict the SLA sensor would reach."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from amperity_ops.cli._render import short_duration
from amperity_ops.client import WorkflowRun
from amperity_ops.monitoring.sla import SlaLevel, evaluate_sla, resolve_sla
from amperity_ops.settings import OpsConfig

__all__ = ["runtime_against_sla", "sla_cell"]

_LEVEL_STYLES = {SlaLevel.OK: "green", SlaLevel.WARNING: "yellow", SlaLevel.BREACHED: "bold red"}


def sla_cell(config: OpsConfig, run: WorkflowRun, now: datetime) -> Text:
    """The verdict and the line it is measured against: ``breached +4m 01s (max 10m, stop)``.

    Shows the next line the run can cross (a run that is ok shows its warning line, a warning
    one its maximum). Rules that come from Amperity's ``warn_after_ms`` say so. The learned
    baseline is left out here (it needs the store's history); explicit policies and Amperity's
    own ``warn_after_ms`` are applied exactly as the sensor applies them.

    Args:
        config: The policy file.
        run: The run.
        now: The current time (the runtime of an active run is measured to it).

    Returns:
        The coloured cell; ``-`` when no SLA applies to the run.
    """
    rule = resolve_sla(run, config)
    if rule is None or run.start_unknown:
        return Text("start unknown" if run.start_unknown else "-", style="dim")
    verdict = evaluate_sla(run, rule, now)
    style = _LEVEL_STYLES[verdict.level]
    text = Text(verdict.level.value, style=style)
    if verdict.over_by is not None:
        text.append(f" +{short_duration(verdict.over_by)}", style=style)
    limits = []
    if rule.max_runtime is not None and (
        verdict.level is not SlaLevel.OK or rule.warn_after is None
    ):
        limits.append(f"max {short_duration(rule.max_runtime)}")
    elif rule.warn_after is not None:
        limits.append(f"warn {short_duration(rule.warn_after)}")
    if rule.action == "stop":
        limits.append("stop")
    if rule.source != "policy":
        limits.append(rule.source)
    text.append(f" ({', '.join(limits)})", style="dim")
    return text


def runtime_against_sla(config: OpsConfig, run: WorkflowRun, now: datetime) -> str:
    """The run's runtime against its SLA, for a sentence: ``runtime 29m, 19m over max 10m``.

    Args:
        config: The policy file.
        run: The run (re-read just now).
        now: The current time (on the SLA clock).

    Returns:
        ``runtime <runtime>`` and how it stands against its warning line and maximum.
    """
    runtime = run.runtime(now)
    if runtime is None:
        return "start unknown: no SLA applies and it is never stopped"
    head = f"runtime {short_duration(runtime)}"
    rule = resolve_sla(run, config)
    if rule is None:
        return f"{head}, no SLA applies"
    verdict = evaluate_sla(run, rule, now)
    source = f"policy {rule.policy_name}" if rule.source == "policy" else rule.source
    if verdict.level is SlaLevel.BREACHED and rule.max_runtime is not None:
        over = short_duration(runtime - rule.max_runtime)
        return f"{head}, {over} over max {short_duration(rule.max_runtime)}; {source}"
    limits = []
    if rule.warn_after is not None:
        limits.append(f"warn {short_duration(rule.warn_after)}")
    if rule.max_runtime is not None:
        limits.append(f"max {short_duration(rule.max_runtime)}")
    if verdict.level is SlaLevel.WARNING and rule.warn_after is not None:
        past = f"{short_duration(runtime - rule.warn_after)} past its warning line"
        if rule.max_runtime is not None:
            left = short_duration(rule.max_runtime - runtime)
            return f"{head}, {past}, {left} before max {short_duration(rule.max_runtime)}; {source}"
        return f"{head}, {past}; {source}"
    return f"{head}, within SLA ({', '.join(limits)}); {source}"
