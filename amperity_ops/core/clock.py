"""Where "now" comes from, as a protocol: the system clock or any other (the demo's).

Production code only ever sees a :class:`Clock`: something to call for the current UTC time,
with a ``label`` saying what a reader must know about the times it gives (None for the system
clock) and a ``mark`` to put beside such times. It never knows which clock it holds, so a
simulated clock can be plugged in without the monitor importing the simulator.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "clock_label", "clock_mark", "clock_name", "utc_now"]


def utc_now() -> datetime:
    """The system clock, UTC-aware (the default everywhere)."""
    return datetime.now(UTC)


@runtime_checkable
class Clock(Protocol):
    """A source of the current time (UTC-aware) that can say what kind of time it gives."""

    def __call__(self) -> datetime:
        """The current time, UTC-aware."""
        ...

    def label(self, now: datetime) -> str | None:
        """What a reader must know about times from this clock (None: real time)."""
        ...

    @property
    def mark(self) -> str:
        """Appended to headers of times read on this clock (``""`` for real time)."""
        ...


class SystemClock:
    """The system clock as a :class:`Clock`: real time, so no label and no mark."""

    mark = ""

    def __call__(self) -> datetime:
        return utc_now()

    def label(self, now: datetime) -> str | None:
        return None

    def __repr__(self) -> str:
        return "SystemClock()"


def clock_label(clock: object, now: datetime) -> str | None:
    """``clock.label(now)`` for a :class:`Clock`; None for a plain callable (real time)."""
    label = getattr(clock, "label", None)
    return label(now) if callable(label) else None


def clock_mark(clock: object) -> str:
    """``clock.mark`` for a :class:`Clock`; ``""`` for a plain callable (real time)."""
    mark = getattr(clock, "mark", "")
    return mark if isinstance(mark, str) else ""


def clock_name(clock: object) -> str | None:
    """What to call a clock whose times are not real ones, beside a single time.

    A :class:`Clock` may carry an optional ``name`` (the demo's reads ``"simulator clock"``);
    it is only returned when the clock marks its times, so real time is never annotated.

    Args:
        clock: A :class:`Clock` or a plain callable.

    Returns:
        E.g. ``"simulator clock"``; None for real time (the system clock, a plain callable).
    """
    name = getattr(clock, "name", None)
    return name if isinstance(name, str) and name and clock_mark(clock) else None
