"""Where "now" comes from: the system clock, or a simulator's accelerated clock (the demo).

SLA decisions compare a run's ``created_at`` (the tenant's clock) with "now". Against real
Amperity that is the system clock. The demo's simulator runs its clock 10 times faster than
real time, so its runs would never look late on the system clock; with
``AMPERITY_OPS_CLOCK=simulator`` "now" is read from the simulator's ``GET /_sim/health``
(a local control endpoint the real API does not have, so this is never used against it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

__all__ = ["CLOCK_ENV", "SIM_MARK", "SimulatorClock", "clock_from_env", "clock_note", "utc_now"]

SIM_MARK = " (sim)"
"""Appended to headers of times read on the simulator's clock (``started (sim)``)."""

log = logging.getLogger(__name__)

CLOCK_ENV = "AMPERITY_OPS_CLOCK"
"""``system`` (default) or ``simulator``."""


def utc_now() -> datetime:
    """The system clock, UTC-aware (the default)."""
    return datetime.now(UTC)


class SimulatorClock:
    """Reads the simulated time from a simulator's ``/_sim/health`` on every call.

    Args:
        base_url: The tenant's API base URL (``http://127.0.0.1:8765/api``); the control
            endpoint is at the same origin.
        transport: An httpx transport (tests).
    """

    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None) -> None:
        parts = urlsplit(base_url)
        self.health_url = f"{parts.scheme}://{parts.netloc}/_sim/health"
        self._http = httpx.Client(timeout=5.0, transport=transport)
        self.speed: float | None = None
        """Simulated seconds per real second, as of the last read (None until known)."""

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def __call__(self) -> datetime:
        """The simulator's current time; the system clock if it cannot be read."""
        try:
            answer = self._http.get(self.health_url)
            answer.raise_for_status()
            body = answer.json()
            value = datetime.fromisoformat(str(body["now"]).replace("Z", "+00:00"))
            speed = body.get("speed")
            self.speed = float(speed) if isinstance(speed, int | float) else None
        except (httpx.HTTPError, KeyError, ValueError) as err:
            log.warning(
                "simulator clock unreadable at %s (%s); using the system clock",
                self.health_url,
                type(err).__name__,
            )
            return utc_now()
        return value if value.tzinfo else value.replace(tzinfo=UTC)


def clock_note(clock: Callable[[], datetime], now: datetime) -> str | None:
    """What a reader must know about times read on ``clock``; None for the system clock.

    The demo's simulated times run ahead of real time (10 hours after one real hour at 10x)
    and sit next to Dagster's real timestamps, so they are labelled rather than left to
    look like real ones.

    Args:
        clock: The clock the times came from.
        now: Its current time (as just read from it).

    Returns:
        E.g. ``simulator clock, 10x faster than real time; times marked (sim) are simulated
        (sim now 18:24Z = real 17:18Z)``, or None.
    """
    if not isinstance(clock, SimulatorClock):
        return None
    speed = f", {clock.speed:g}x faster than real time" if clock.speed else ""
    return (f"simulator clock{speed}; times marked{SIM_MARK} are simulated "
            f"(sim now {now.astimezone(UTC):%H:%MZ} = real {utc_now():%H:%MZ})")


def clock_from_env(base_url: str | None) -> Callable[[], datetime]:
    """The clock ``AMPERITY_OPS_CLOCK`` asks for.

    Args:
        base_url: The first tenant's API base URL (where the simulator is), if any.

    Returns:
        ``utc_now``, or a :class:`SimulatorClock` for ``simulator``.

    Raises:
        ValueError: For an unknown value, or ``simulator`` without a base URL.
    """
    choice = (os.environ.get(CLOCK_ENV) or "system").strip().lower()
    if choice == "system":
        return utc_now
    if choice == "simulator":
        if not base_url:
            raise ValueError(f"{CLOCK_ENV}=simulator needs the tenant's base_url (the simulator)")
        return SimulatorClock(base_url)
    raise ValueError(f"{CLOCK_ENV}: expected 'system' or 'simulator', got {choice!r}")
