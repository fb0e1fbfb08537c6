"""Where "now" comes from: the system clock, or a simulator's accelerated clock (the demo).

SLA decisions compare a run's ``created_at`` (the tenant's clock) with "now". Against real
Amperity that is the system clock. The demo's simulator runs its clock 30 times faster than
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

__all__ = ["CLOCK_ENV", "SimulatorClock", "clock_from_env", "utc_now"]

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

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def __call__(self) -> datetime:
        """The simulator's current time; the system clock if it cannot be read."""
        try:
            answer = self._http.get(self.health_url)
            answer.raise_for_status()
            value = datetime.fromisoformat(str(answer.json()["now"]).replace("Z", "+00:00"))
        except (httpx.HTTPError, KeyError, ValueError) as err:
            log.warning(
                "simulator clock unreadable at %s (%s); using the system clock",
                self.health_url,
                type(err).__name__,
            )
            return utc_now()
        return value if value.tzinfo else value.replace(tzinfo=UTC)


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
