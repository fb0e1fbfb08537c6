"""The per-tenant request budget: every request waits for a slot *before* it is sent.

Amperity allows 10 requests per second per tenant, across every caller. A limiter that only
reacts to 429s wastes requests and annoys the tenant's other callers, so the client asks this
budget first.

Algorithm: a **sliding log** of the last ``N`` send times (``N`` = the per-window limit). A
request may go only when the ``N``-th previous send is more than ``window + margin`` seconds
old. Unlike a token bucket (which allows a burst of ``N`` right after a full second of
bursting), this guarantees that *no* sliding window of ``window`` seconds ever holds more than
``N`` sends, which is what a strict server limiter checks. The small margin absorbs the jitter
between taking a slot and the request reaching the server, at a cost of ``margin/window`` of
throughput (2.5 % by default: 9.76 rps of 10).

Backends hold the log where every sharer can see it:

* ``memory``: a process-wide dict, shared by every thread and client of the process.
* ``file`` (default): one small file per tenant under the temp dir, guarded by ``flock``;
  shared by every process on the host. Times come from ``time.monotonic`` (system-wide on
  Linux); entries from the future (a reboot) are discarded.
* ``redis://…``: one list per tenant, updated by an atomic Lua script that reads the Redis
  server's own clock, so hosts need not agree on time.
* ``postgresql://…``: one row per tenant in ``amperity_ops_rate_budget``, updated under a row
  lock (``SELECT … FOR UPDATE``) with the database server's clock.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import os
import re
import struct
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from amperity_ops.client.errors import AmperityError

__all__ = [
    "DEFAULT_MARGIN",
    "Budget",
    "FileBudget",
    "MemoryBudget",
    "PostgresBudget",
    "RateLimiter",
    "RedisBudget",
    "budget_from_url",
    "window_for",
]

DEFAULT_MARGIN = 0.025
"""Seconds added to the window: covers send-to-arrival jitter (see the module docstring)."""

_MIN_WAIT = 0.0005  # never spin: a wait shorter than this is rounded up


def window_for(rps: float) -> tuple[int, float]:
    """Translate a rate into ``(limit, window_seconds)`` for the sliding log.

    Args:
        rps: Requests per second (> 0). ``10`` gives ``(10, 1.0)``; ``2.5`` gives ``(2, 0.8)``.

    Returns:
        At most ``limit`` sends in any ``window_seconds``.
    """
    if rps <= 0 or not math.isfinite(rps):
        raise ValueError(f"rate_limit_rps must be a positive number, got {rps!r}")
    limit = max(1, math.floor(rps))
    return limit, limit / rps


def _wait_for(log: list[float], now: float, limit: int, window: float) -> float:
    """Seconds until a slot frees in a log sorted oldest first (0 if one is free now)."""
    if len(log) < limit:
        return 0.0
    wait = log[-limit] + window - now
    return wait if wait > 0 else 0.0


class Budget(Protocol):
    """Where the sliding log lives. ``try_acquire`` is atomic across every sharer."""

    def try_acquire(self, limit: int, window: float) -> float:
        """Take a slot if one is free (recording the send), else return seconds to wait.

        Args:
            limit: At most this many sends ...
            window: ... in any window of this many seconds (margin included).

        Returns:
            0.0 if a slot was taken, else how long until one may free up.
        """
        ...

    def close(self) -> None:
        """Release connections or files."""
        ...


class MemoryBudget:
    """A log in process memory, shared by every thread (and client) using the same key."""

    _registry: dict[str, MemoryBudget] = {}
    _registry_lock = threading.Lock()

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._log: deque[float] = deque()

    @classmethod
    def shared(cls, key: str) -> MemoryBudget:
        """The process-wide budget for ``key`` (created on first use)."""
        with cls._registry_lock:
            budget = cls._registry.get(key)
            if budget is None:
                budget = cls._registry[key] = cls()
            return budget

    def try_acquire(self, limit: int, window: float) -> float:
        """See :meth:`Budget.try_acquire`."""
        with self._lock:
            now = self._clock()
            while len(self._log) > limit:
                self._log.popleft()
            if len(self._log) >= limit:
                wait = self._log[-limit] + window - now
                if wait > 0:
                    return wait
            self._log.append(now)
            return 0.0

    def close(self) -> None:
        """Nothing to release."""


class FileBudget:
    """A log in a small binary file (``N`` doubles), shared by every process on the host."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()  # flock is per open file; threads need their own lock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    @staticmethod
    def default_path(key: str, directory: Path | None = None) -> Path:
        """Where the file for ``key`` lives by default: ``$TMPDIR/amperity-ops-rate/<key>``."""
        base = directory or Path(tempfile.gettempdir()) / "amperity-ops-rate"
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:60]
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        return base / f"{safe}-{digest}.budget"

    def try_acquire(self, limit: int, window: float) -> float:
        """See :meth:`Budget.try_acquire`."""
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                now = self._clock()
                raw = os.pread(self._fd, 8 * 4096, 0)
                count = len(raw) // 8
                log = list(struct.unpack(f"<{count}d", raw[: count * 8]))
                # Entries from the future come from before a reboot (monotonic restarts).
                log = [t for t in log if t <= now + 1.0][-limit:]
                wait = _wait_for(log, now, limit, window)
                if wait > 0:
                    return wait
                log.append(now)
                log = log[-limit:]
                data = struct.pack(f"<{len(log)}d", *log)
                os.pwrite(self._fd, data, 0)
                os.ftruncate(self._fd, len(data))
                return 0.0
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


_REDIS_SCRIPT = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if redis.call('LLEN', KEYS[1]) >= limit then
  local nth = tonumber(redis.call('LINDEX', KEYS[1], limit - 1))
  local wait = nth + window - now
  if wait > 0 then return tostring(wait) end
end
redis.call('LPUSH', KEYS[1], string.format('%.6f', now))
redis.call('LTRIM', KEYS[1], 0, limit - 1)
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
return '0'
"""


class RedisBudget:
    """A log in a Redis list (newest first), updated atomically by a Lua script."""

    def __init__(self, url: str, key: str) -> None:
        import redis  # imported here: only this backend needs it

        self.key = f"amperity-ops:rate:{key}"
        self._redis = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_REDIS_SCRIPT)

    def try_acquire(self, limit: int, window: float) -> float:
        """See :meth:`Budget.try_acquire`."""
        answer = self._script(keys=[self.key], args=[limit, repr(window)])
        return float(answer)

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()


class PostgresBudget:
    """A log in one Postgres row per key, updated under ``SELECT … FOR UPDATE``."""

    def __init__(self, url: str, key: str) -> None:
        import psycopg2  # ships with dagster-postgres; imported here: only this backend needs it

        self.key = key
        self._lock = threading.Lock()  # one connection, one transaction at a time
        self._conn: Any = psycopg2.connect(_libpq_url(url))
        self._ensure_table()

    def _ensure_table(self) -> None:
        import psycopg2

        with self._lock:
            try:
                with self._conn, self._conn.cursor() as cur:
                    cur.execute(
                        "CREATE TABLE IF NOT EXISTS amperity_ops_rate_budget ("
                        "key text PRIMARY KEY, sends double precision[] NOT NULL DEFAULT '{}')"
                    )
            except psycopg2.IntegrityError:
                pass  # another process created it at the same moment

    def try_acquire(self, limit: int, window: float) -> float:
        """See :meth:`Budget.try_acquire`."""
        with self._lock, self._conn, self._conn.cursor() as cur:
            cur.execute(
                "INSERT INTO amperity_ops_rate_budget (key) VALUES (%s) "
                "ON CONFLICT (key) DO NOTHING",
                (self.key,),
            )
            cur.execute(
                "SELECT sends, extract(epoch from clock_timestamp())::float8 "
                "FROM amperity_ops_rate_budget WHERE key = %s FOR UPDATE",
                (self.key,),
            )
            sends, now = cur.fetchone()
            log = [t for t in (sends or []) if t <= now + 1.0][-limit:]
            wait = _wait_for(log, now, limit, window)
            if wait > 0:
                return float(wait)
            log.append(now)
            cur.execute(
                "UPDATE amperity_ops_rate_budget SET sends = %s WHERE key = %s",
                (log[-limit:], self.key),
            )
            return 0.0

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _libpq_url(url: str) -> str:
    # SQLAlchemy-style URLs (postgresql+psycopg2://) are accepted too; libpq wants the plain one.
    return re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", url)


class RateLimiter:
    """Blocks each request until the shared budget has a slot for it.

    Args:
        budget: Where the log lives (see the module docstring).
        rps: Requests per second allowed for the tenant.
        margin: Seconds added to the window to absorb send-to-arrival jitter.
        sleep: How to wait (injectable for tests).
    """

    def __init__(
        self,
        budget: Budget,
        *,
        rps: float = 10.0,
        margin: float = DEFAULT_MARGIN,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.budget = budget
        self.limit, base_window = window_for(rps)
        self.window = base_window + margin
        self._sleep = sleep

    def acquire(self) -> float:
        """Wait until a slot is free and take it.

        Returns:
            How many seconds were spent waiting.

        Raises:
            AmperityError: If the budget's backend (Redis, Postgres, file) cannot be reached.
        """
        waited = 0.0
        while True:
            try:
                wait = self.budget.try_acquire(self.limit, self.window)
            except Exception as err:
                # Fail closed: sending without the budget could push the tenant over its
                # limit for every other caller. The URL is not quoted (it may hold a password).
                raise AmperityError(
                    f"the shared rate budget ({type(self.budget).__name__}) is unavailable: "
                    f"{type(err).__name__}; check AMPERITY_RATE_LIMIT_BACKEND"
                ) from err
            if wait <= 0:
                return waited
            wait = max(wait, _MIN_WAIT)
            self._sleep(wait)
            waited += wait

    def close(self) -> None:
        """Release the budget's resources."""
        self.budget.close()

    def __repr__(self) -> str:
        kind = type(self.budget).__name__
        return f"RateLimiter({kind}, limit={self.limit}, window={self.window:.3f}s)"


def budget_from_url(backend: str, key: str, *, clock: Callable[[], float] | None = None) -> Budget:
    """Build the budget a backend setting names.

    Args:
        backend: ``file`` (default), ``file:///some/dir``, ``memory``, ``redis://…`` or
            ``postgresql://…``.
        key: What the budget is shared by (the tenant id, plus the host when not default).
        clock: A monotonic clock for the ``memory`` and ``file`` backends (tests).

    Returns:
        The budget.

    Raises:
        ValueError: For an unknown backend, naming the setting.
    """
    scheme = urlsplit(backend).scheme.lower() if "://" in backend else backend.strip().lower()
    if scheme in ("", "file"):
        directory = None
        if "://" in backend:
            path = unquote(urlsplit(backend).path)
            directory = Path(path) if path else None
        path_ = FileBudget.default_path(key, directory)
        return FileBudget(path_, clock=clock or time.monotonic)
    if scheme == "memory":
        if clock is not None:
            return MemoryBudget(clock=clock)
        return MemoryBudget.shared(key)
    if scheme in ("redis", "rediss", "unix"):
        return RedisBudget(backend, key)
    if scheme.startswith("postgres"):
        return PostgresBudget(backend, key)
    # Only the scheme is quoted: the URL itself may hold a password.
    raise ValueError(
        f"AMPERITY_RATE_LIMIT_BACKEND: unknown backend {scheme!r}; use one of: file, "
        "file:///dir, memory, redis://host:port/db, postgresql://user@host/db"
    )
