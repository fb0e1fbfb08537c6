"""How a run's runtime is told against its SLA: every phrasing, written once.

The CLI (``runs list``, ``runs stop``), the Dagster metadata and asset checks, the alerts, the
stop reasons and the sensor's log lines all word "runtime against SLA" through these
functions, so the same run reads the same everywhere. Levels are the SLA levels' values
(``ok``, ``warning``, ``breached``); ``SlaLevel`` members compare equal to them. Pure, and
importing nothing of the project but the core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from amperity_ops.core.durations import (
    compact_duration,
    format_duration,
    hours_duration,
    short_duration,
)

__all__ = [
    "SlaCell",
    "data_note",
    "late_title",
    "md_cell",
    "over_by",
    "overshoot",
    "past_limit",
    "ran_over_max",
    "runtime_against",
    "sla_cell",
    "sla_limits",
    "sla_stop_reason",
    "stop_at_max",
]

BREACHED, WARNING, OK = "breached", "warning", "ok"


def data_note(record: object, problems: Sequence[str]) -> str:
    """``created_at missing``: what an odd record lacked, for alerts, metadata and the CLI.

    A field the record holds as None was missing (or null); any other was sent in a shape
    that did not fit and is kept as best it could be (``name unreadable``).

    Args:
        record: The record (a ``WorkflowRun``), to tell a missing field from an unreadable one.
        problems: The fields that did not fit (the record's ``problems``), e.g.
            ``("created_at",)`` or ``("task_instances.2.state",)``.
    """
    words = []
    for path in problems:
        missing = "." not in path and getattr(record, path, None) is None
        words.append(f"{path} {'missing' if missing else 'unreadable'}")
    return ", ".join(words) or "-"


def sla_stop_reason(policy: str, runtime: timedelta, max_runtime: timedelta) -> str:
    """``SLA policy courier: runtime 3h 00m over max 2h 00m``: the SLA sensor's stop reason."""
    return (f"SLA policy {policy}: runtime {format_duration(runtime)} over max "
            f"{format_duration(max_runtime)}")


def late_title(
    level: str, name: str, runtime: timedelta, line: timedelta | None, over: timedelta | None
) -> str:
    """An alert's title for a late run, past its maximum (``breached``) or its warning line.

    ``BREACHED: Nightly has run 2h 10m, over its max runtime 2h 00m by 10m 00s``,
    ``WARNING: Nightly has run 1h 10m, past its warning line 1h 00m by 10m 00s``.
    """
    where = "over its max runtime" if level == BREACHED else "past its warning line"
    return (f"{level.upper()}: {name} has run {format_duration(runtime)}, {where} "
            f"{format_duration(line)} by {format_duration(over)}")


def ran_over_max(
    subject: str, runtime: timedelta, max_runtime: timedelta | None, rule: str
) -> str:
    """``Nightly (wf-1) has run 3h 00m, over max_runtime 2h 00m of policy:courier``."""
    return (f"{subject} has run {format_duration(runtime)}, over max_runtime "
            f"{format_duration(max_runtime)} of {rule}")


def past_limit(
    runtime: timedelta, limit: timedelta | None,
    fmt: Callable[[timedelta | None], str] = compact_duration,
) -> str:
    """``29m29s > 10m`` (a log line), or with ``fmt=hours_duration`` ``29m 29s > 10m 00s``."""
    return f"{fmt(runtime)} > {fmt(limit)}"


def over_by(over: timedelta, fmt: Callable[[timedelta | None], str] = hours_duration) -> str:
    """``+15m 34s``: how far past the line that set the level (metadata's wording)."""
    return f"+{fmt(over)}"


def overshoot(runtime: timedelta, max_runtime: timedelta) -> str:
    """``19m over``: how far past its maximum a stopped run ran."""
    return f"{short_duration(runtime - max_runtime)} over"


def stop_at_max(max_runtime: timedelta, *, dry_run: bool) -> str:
    """``stop at max runtime 10m`` (``dry run: would stop at ...``): a planned stop."""
    text = f"stop at max runtime {short_duration(max_runtime)}"
    return f"dry run: would {text}" if dry_run else text


def sla_limits(
    level: str,
    *,
    warn_after: timedelta | None,
    max_runtime: timedelta | None,
    action: str | None,
    source: str | None,
) -> list[str]:
    """The next line a run can cross, ``stop`` for a stopping policy, and a non-policy source.

    A run that is ok shows its warning line (its maximum when it has none), a late one its
    maximum: ``["max 10m", "stop"]``, ``["warn 5m", "amperity"]``.

    Args:
        level: ``ok``, ``warning`` or ``breached``.
        warn_after: The rule's warning line.
        max_runtime: The rule's maximum.
        action: The rule's action (``alert`` or ``stop``).
        source: The rule's label (``policy:<name>`` is not shown; ``amperity``, ``baseline`` are).
    """
    limits = []
    if max_runtime is not None and (level != OK or warn_after is None):
        limits.append(f"max {short_duration(max_runtime)}")
    elif warn_after is not None:
        limits.append(f"warn {short_duration(warn_after)}")
    if action == "stop":
        limits.append("stop")
    if source is not None and not source.startswith("policy:"):
        limits.append(source)
    return limits


@dataclass(frozen=True)
class SlaCell:
    """An SLA cell in two parts, so a terminal can colour them apart."""

    verdict: str
    """``BREACHED +15m 34s`` (a metadata table), ``breached +15m 34s`` (the terminal)."""
    limits: list[str]
    """See :func:`sla_limits`."""

    def __str__(self) -> str:
        return f"{self.verdict} ({', '.join(self.limits)})" if self.limits else self.verdict


def sla_cell(
    level: str,
    runtime: timedelta,
    *,
    warn_after: timedelta | None,
    max_runtime: timedelta | None,
    action: str | None,
    source: str | None,
    terminal: bool = False,
) -> SlaCell:
    """The SLA column of a table: the verdict, how far over, and the line it is measured by.

    ``BREACHED +15m 34s (max 10m, stop)``, ``WARNING +1m 02s (max 10m)``, ``ok (warn 5m)`` in
    metadata tables; in the terminal (``terminal=True``) the level is lower case and the overrun
    drops zero parts: ``breached +4m (max 10m, stop)``.

    Args:
        level: ``ok``, ``warning`` or ``breached``.
        runtime: The run's runtime (how far over is measured from the line that set the level).
        warn_after: The rule's warning line.
        max_runtime: The rule's maximum.
        action: The rule's action.
        source: The rule's label.
        terminal: Word it for the terminal rather than a metadata table.
    """
    over = _over(level, runtime, warn_after=warn_after, max_runtime=max_runtime)
    if terminal:
        verdict = level + (f" +{short_duration(over)}" if over is not None else "")
    else:
        verdict = (level.upper() if level != OK else OK) + (
            f" {over_by(over)}" if over is not None else "")
    limits = sla_limits(level, warn_after=warn_after, max_runtime=max_runtime, action=action,
                        source=source)
    return SlaCell(verdict, limits)


def _over(
    level: str, runtime: timedelta, *, warn_after: timedelta | None,
    max_runtime: timedelta | None,
) -> timedelta | None:
    """How far past the line that set the level (None when ok)."""
    if level == BREACHED and max_runtime is not None:
        return runtime - max_runtime
    if level == WARNING and warn_after is not None:
        return runtime - warn_after
    return None


def runtime_against(
    runtime: timedelta,
    level: str,
    *,
    warn_after: timedelta | None,
    max_runtime: timedelta | None,
    source: str | None,
) -> str:
    """A run's runtime against its SLA, for a sentence: ``runtime 29m, 19m over max 10m; ...``.

    Args:
        runtime: The run's runtime.
        level: ``ok``, ``warning`` or ``breached``.
        warn_after: The rule's warning line.
        max_runtime: The rule's maximum.
        source: Where the rule comes from (``policy courier``, ``amperity``); None: no rule.
    """
    head = f"runtime {short_duration(runtime)}"
    if source is None:
        return f"{head}, no SLA applies"
    if level == BREACHED and max_runtime is not None:
        over = short_duration(runtime - max_runtime)
        return f"{head}, {over} over max {short_duration(max_runtime)}; {source}"
    if level == WARNING and warn_after is not None:
        past = f"{short_duration(runtime - warn_after)} past its warning line"
        if max_runtime is not None:
            left = short_duration(max_runtime - runtime)
            return f"{head}, {past}, {left} before max {short_duration(max_runtime)}; {source}"
        return f"{head}, {past}; {source}"
    limits = []
    if warn_after is not None:
        limits.append(f"warn {short_duration(warn_after)}")
    if max_runtime is not None:
        limits.append(f"max {short_duration(max_runtime)}")
    return f"{head}, within SLA ({', '.join(limits)}); {source}"


def md_cell(value: object) -> str:
    """Text safe inside a markdown table cell (a pipe or a newline would break the table)."""
    return str(value).replace("|", "\\|").replace("\n", " ")
