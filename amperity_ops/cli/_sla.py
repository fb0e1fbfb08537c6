"""The SLA column of ``runs list``: the same rule and verdict the SLA sensor would reach."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from amperity_ops.client import WorkflowRun
from amperity_ops.core import wording
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
    cell = wording.sla_cell(verdict.level, verdict.runtime, warn_after=rule.warn_after,
                            max_runtime=rule.max_runtime, action=rule.action, source=rule.label,
                            terminal=True)
    text = Text(cell.verdict, style=_LEVEL_STYLES[verdict.level])
    text.append(f" ({', '.join(cell.limits)})", style="dim")
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
    rule = resolve_sla(run, config)
    if rule is None:
        return wording.runtime_against(runtime, SlaLevel.OK, warn_after=None, max_runtime=None,
                                       source=None)
    verdict = evaluate_sla(run, rule, now)
    source = f"policy {rule.policy_name}" if rule.source == "policy" else rule.source
    return wording.runtime_against(runtime, verdict.level, warn_after=rule.warn_after,
                                   max_runtime=rule.max_runtime, source=source)
