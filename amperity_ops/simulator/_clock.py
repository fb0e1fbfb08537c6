"""Clocks for the simulated world: a real (optionally accelerated) one and a manual one.

The world never reads the wall clock directly; it asks its clock, so tests drive time by hand
with :class:`ManualClock` and demos speed it up with :class:`SystemClock`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

#: Where a ManualClock starts when no time is given: a fixed instant keeps tests repeatable.
DEFAULT_MANUAL_START = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


class Clock(Protocol):
    """Anything that tells the simulated world what time it is (timezone-aware UTC)."""

    def now(self) -> datetime:
        """Return the current simulated time."""
        ...


def _require_aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


class ManualClock:
    """A clock that only moves when told to; thread-safe.

    Args:
        start: The initial time (timezone-aware). Defaults to 2026-11-01T02:00Z.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = _require_aware(start or DEFAULT_MANUAL_START, "start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the current time."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        """Move the clock forward.

        Args:
            delta: A timedelta or a number of seconds; must not be negative.

        Returns:
            The new current time.

        Raises:
            ValueError: If ``delta`` is negative (simulated time never runs backwards).
        """
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if step < timedelta(0):
            raise ValueError(f"delta must not be negative, got {step}")
        with self._lock:
            self._now += step
            return self._now

    def set(self, moment: datetime) -> datetime:
        """Jump to ``moment``, which must not be earlier than the current time."""
        moment = _require_aware(moment, "moment")
        with self._lock:
            if moment < self._now:
                raise ValueError(f"cannot move the clock back from {self._now} to {moment}")
            self._now = moment
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self.now().isoformat()})"


class SystemClock:
    """Real time, optionally accelerated: simulated time = start + elapsed * speed.

    Args:
        speed: How many simulated seconds pass per real second (1.0 = real time).
        start: The simulated time at construction; defaults to the current real UTC time.
        monotonic: The real seconds source (injectable so tests need not wait).
    """

    def __init__(
        self,
        *,
        speed: float = 1.0,
        start: datetime | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._start = _require_aware(start, "start") if start else datetime.now(UTC)
        self._monotonic = monotonic
        self._t0 = monotonic()

    def now(self) -> datetime:
        """Return the current simulated time."""
        elapsed = self._monotonic() - self._t0
        return self._start + timedelta(seconds=elapsed * self.speed)

    def __repr__(self) -> str:
        return f"SystemClock(speed={self.speed})"
