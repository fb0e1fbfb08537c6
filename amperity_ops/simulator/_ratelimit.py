"""The strict per-tenant rate limit: at most N admitted requests in any one-second window.

Only admitted requests are remembered; the 429 answers do not count. So the promise is
exact and easy to test: among the requests the tenant *served*, no sliding one-second window
ever holds more than N. A client that backs off after a 429 is served again as soon as its
oldest admitted request is a second old (what a fair gateway does, and what Amperity's
"10 requests per second" describes).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """Admit at most ``max_requests`` per ``window`` seconds, per key; thread-safe.

    Args:
        rps: Requests per second allowed (10.0 -> 10 in any one-second window).
        clock: Monotonic seconds; injectable so tests need not sleep.
        window: The window length in seconds.
    """

    def __init__(
        self,
        rps: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        window: float = 1.0,
    ) -> None:
        if rps <= 0:
            raise ValueError(f"rps must be positive, got {rps}")
        self.rps = rps
        self.max_requests = max(1, int(rps * window))
        self.window = window
        self._clock = clock
        self._admitted: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str) -> bool:
        """Record and allow the request if the window has room, else refuse it."""
        now = self._clock()
        with self._lock:
            stamps = self._admitted.get(key)
            if stamps is None:
                stamps = self._admitted[key] = deque()
            horizon = now - self.window
            while stamps and stamps[0] <= horizon:
                stamps.popleft()
            if len(stamps) >= self.max_requests:
                return False
            stamps.append(now)
            return True

    def reset(self, key: str | None = None) -> None:
        """Forget admitted requests (of one key, or all)."""
        with self._lock:
            if key is None:
                self._admitted.clear()
            else:
                self._admitted.pop(key, None)
