"""How runs, states and times look in the terminal: colours that mean the same everywhere."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.console import Console, RenderableType
from rich.segment import Segment, Segments
from rich.text import Text

from amperity_ops.client import StateKind, WorkflowState
from amperity_ops.core.durations import format_duration, short_duration

__all__ = ["STATE_STYLES", "ago", "print_trimmed", "short_duration", "state_text", "when"]

STATE_STYLES: dict[StateKind, str] = {
    StateKind.SCHEDULED: "cyan",
    StateKind.RUNNING: "bold cyan",
    StateKind.RUNNING_WITH_FAILURES: "bold yellow",
    StateKind.PAUSED: "yellow",
    StateKind.FINALIZING: "cyan",
    StateKind.STOPPING: "magenta",
    StateKind.STOPPED: "magenta",
    StateKind.SUCCEEDED: "green",
    StateKind.FAILED: "bold red",
    StateKind.SKIPPED: "dim",
    StateKind.UNKNOWN: "bold white on red",
}


def state_text(state: WorkflowState | None) -> Text:
    """The wire state (as Amperity wrote it) coloured by its normalised kind; ``-`` for None."""
    if state is None:
        return Text("-", style="dim")
    return Text(state.raw, style=STATE_STYLES.get(state.kind, ""))


def when(moment: datetime | None) -> str:
    """A UTC timestamp to the minute, e.g. ``11-01 02:15Z`` (the year is rarely in doubt)."""
    if moment is None:
        return "-"
    return moment.strftime("%m-%d %H:%MZ")


def ago(moment: datetime | None, now: datetime) -> str:
    """How long before ``now``, e.g. ``12m 30s ago``."""
    if moment is None:
        return "-"
    delta: timedelta = now - moment
    return f"{format_duration(delta)} ago"


def _rstrip_line(line: list[Segment]) -> list[Segment]:
    """One rendered line without its trailing whitespace (padding up to the table's width)."""
    line = list(line)
    while line:
        last = line[-1]
        if last.control:
            break
        text = last.text.rstrip()
        if text:
            line[-1] = Segment(text, last.style, last.control)
            break
        line.pop()
    return line


def print_trimmed(console: Console, renderable: RenderableType) -> None:
    """Prints ``renderable`` (a table) with no trailing spaces on any line.

    Rich pads every cell, and so every line, to the column width; the spaces are invisible in a
    terminal but make a copied or ``grep``-ed line messy.
    """
    segments: list[Segment] = []
    for line in console.render_lines(renderable, console.options, pad=False):
        segments += [*_rstrip_line(line), Segment.line()]
    console.print(Segments(segments), end="", soft_wrap=True)
