"""The demo's clock as the monitor sees it: "now" read from a running simulator.

SLA decisions compare a run's ``created_at`` (the tenant's clock) with "now". The demo's
simulator runs its clock 10 times faster than real time, so its runs would never look late on
the system clock; with ``AMPERITY_OPS_CLOCK=simulator`` the monitor reads "now" from the
simulator's ``GET /_sim/health`` (a local control endpoint the real API does not have, so this
is never used against it).

The monitor never imports this module: ``services/clock.py`` loads :func:`simulator_clock` by
name, only when the variable asks for it, and from then on sees only a
:class:`amperity_ops.core.clock.Clock` (its ``label``, ``mark`` and ``name`` say that the times
are simulated). Not to be confused with ``_clock.py``, the clocks that drive the simulated
world itself.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from amperity_ops.core.clock import utc_now

__all__ = ["SIM_MARK", "SimulatorClock", "simulator_clock"]

SIM_MARK = " (sim)"
"""Appended to headers of times read on the simulator's clock (``started (sim)``)."""

log = logging.getLogger(__name__)


class SimulatorClock:
    """Reads the simulated time from a simulator's ``/_sim/health`` on every call.

    A :class:`amperity_ops.core.clock.Clock`: its ``label`` says the times are simulated and
    how fast they run, its ``mark`` (`` (sim)``) goes beside them.

    Args:
        base_url: The tenant's API base URL (``http://127.0.0.1:8765/api``); the control
            endpoint is at the same origin.
        transport: An httpx transport (tests).
    """

    mark = SIM_MARK
    name = "simulator clock"

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

    def label(self, now: datetime) -> str:
        """What a reader must know about times read on this clock.

        The demo's simulated times run ahead of real time (10 hours after one real hour at
        10x) and sit next to Dagster's real timestamps, so they are labelled rather than left
        to look like real ones.

        Args:
            now: Its current time (as just read from it).

        Returns:
            E.g. ``simulator clock, 10x faster than real time; times marked (sim) are simulated
            (sim now 18:24Z = real 17:18Z)``.
        """
        speed = f", {self.speed:g}x faster than real time" if self.speed else ""
        return (f"{self.name}{speed}; times marked{self.mark} are simulated "
                f"(sim now {now.astimezone(UTC):%H:%MZ} = real {utc_now():%H:%MZ})")

    def __repr__(self) -> str:
        return f"SimulatorClock({self.health_url!r})"


def simulator_clock(base_url: str | None) -> SimulatorClock:
    """The clock plugin ``AMPERITY_OPS_CLOCK=simulator`` names (see ``services/clock.py``).

    Args:
        base_url: The first tenant's API base URL (where the simulator is).

    Returns:
        A :class:`SimulatorClock` reading that simulator.

    Raises:
        ValueError: Without a base URL.
    """
    if not base_url:
        raise ValueError("the simulator clock needs the tenant's base_url (the simulator)")
    return SimulatorClock(base_url)
