"""Which requests a tenant answered, and how: for tests and benchmarks of the other parts.

A sensor test proves "at most two requests per tick" by reading ``count()`` before and after;
a benchmark reads totals per route. Counters are exact; the detailed entries keep only the
most recent ones so a long benchmark does not grow memory without bound.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class LoggedRequest:
    """One answered request."""

    method: str
    path: str
    route: str
    status: int
    at: float | None = None
    """When the request arrived (the simulator's limiter clock, monotonic seconds)."""


class RequestLog:
    """Counts of answered requests by path, route and status; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_path: Counter[str] = Counter()
        self._by_route: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()
        self._by_key: Counter[tuple[str, str, int]] = Counter()
        self._entries: deque[LoggedRequest] = deque(maxlen=MAX_ENTRIES)
        self._total = 0

    def record(
        self, method: str, path: str, route: str, status: int, *, at: float | None = None
    ) -> None:
        """Remember one answered request (``status`` 0 = connection dropped).

        ``at`` is when it arrived (monotonic seconds), for :meth:`busiest_window`.
        """
        with self._lock:
            self._total += 1
            self._by_path[f"{method} {path}"] += 1
            self._by_route[f"{method} {route}"] += 1
            self._by_status[status] += 1
            self._by_key[(method, path, status)] += 1
            self._entries.append(LoggedRequest(method, path, route, status, at))

    def count(
        self,
        path: str | None = None,
        *,
        method: str | None = None,
        status: int | None = None,
        prefix: bool = False,
    ) -> int:
        """How many requests matched.

        Args:
            path: The request path (``/api/workflow/runs``); None = any.
            method: HTTP method; None = any.
            status: Answered status (0 = dropped); None = any.
            prefix: Match ``path`` as a prefix (e.g. every ``/api/workflow/runs/...``).
        """
        with self._lock:
            total = 0
            for (m, p, s), n in self._by_key.items():
                if method is not None and m != method.upper():
                    continue
                if status is not None and s != status:
                    continue
                if path is not None and not (p.startswith(path) if prefix else p == path):
                    continue
                total += n
            return total

    @property
    def total(self) -> int:
        """Every answered request."""
        with self._lock:
            return self._total

    def entries(self) -> list[LoggedRequest]:
        """The most recent requests (up to 10,000), oldest first."""
        with self._lock:
            return list(self._entries)

    def busiest_window(self, seconds: float = 1.0) -> int:
        """The most requests that arrived within any ``seconds`` (of the entries kept).

        What a strict per-tenant limiter checks: 10 means the tenant never saw 11 in a second.
        Entries without an arrival time are not counted.
        """
        times = sorted(e.at for e in self.entries() if e.at is not None)
        best = first = 0
        for last, at in enumerate(times):
            while at - times[first] >= seconds:
                first += 1
            best = max(best, last - first + 1)
        return best

    def reset(self) -> None:
        """Forget everything."""
        with self._lock:
            self._by_path.clear()
            self._by_route.clear()
            self._by_status.clear()
            self._by_key.clear()
            self._entries.clear()
            self._total = 0

    def to_json(self) -> dict[str, Any]:
        """Totals as JSON (``GET /_sim/tenants/{t}/requests``)."""
        with self._lock:
            return {
                "total": self._total,
                "by_path": dict(self._by_path),
                "by_route": dict(self._by_route),
                "by_status": {str(k): v for k, v in self._by_status.items()},
            }
