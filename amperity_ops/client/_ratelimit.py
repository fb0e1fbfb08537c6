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

**Widening after a 429.** On a loaded host the time between taking a slot and the request
reaching Amperity can exceed the margin, and a strict server then sees 11 in a second. So a
429 widens the window of *every* sharer (the widening is kept in the same backend, beside the
log): by ``WIDEN_STEP`` per 429 (compounded at most once per second, capped at ``MAX_WIDEN``),
held for ``WIDEN_HOLD`` seconds after the last 429, then narrowed back, halving the excess
every ``WIDEN_HALF_LIFE`` seconds (:func:`widen_factor`, :func:`widened_after_429`: pure).

**First use is race-free** for every backend: the file backend creates its directory and file
with ``exist_ok``/``O_CREAT``; Redis scripts are sent by hash with a fallback to ``EVAL``
(nothing to create); Postgres creates its table under a transaction-level advisory lock and
treats "already exists" from a racing creator as success.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import math
import os
import re
import struct
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from amperity_ops.client.errors import AmperityError

logger = logging.getLogger("amperity_ops.client")

__all__ = [
    "DEFAULT_MARGIN",
    "Budget",
    "FileBudget",
    "MemoryBudget",
    "PostgresBudget",
    "RateLimiter",
    "RedisBudget",
    "budget_from_url",
    "widen_factor",
    "widened_after_429",
    "window_for",
]

DEFAULT_MARGIN = 0.025
"""Seconds added to the window: covers send-to-arrival jitter (see the module docstring)."""

_MIN_WAIT = 0.0005  # never spin: a wait shorter than this is rounded up

WIDEN_STEP = 1.5
"""Each 429 multiplies the window by this (at most once per second: one burst, one step)."""
MAX_WIDEN = 3.0
"""The widest the window gets: a third of the rate."""
WIDEN_HOLD = 10.0
"""Seconds the window stays at full width after the last 429."""
WIDEN_HALF_LIFE = 10.0
"""After the hold, the excess over 1 halves every this many seconds."""


def widen_factor(factor: float, last_429_at: float, now: float) -> float:
    """The window multiplier in force at ``now``.

    Args:
        factor: The multiplier set by the last 429 (1.0: never widened).
        last_429_at: When that 429 was noted (the backend's clock, seconds).
        now: The current time on the same clock.

    Returns:
        ``factor`` during ``WIDEN_HOLD`` seconds, then decaying back to 1.0 (half-life
        ``WIDEN_HALF_LIFE``); 1.0 once the excess is under 0.1 %.
    """
    if factor <= 1.0:
        return 1.0
    past_hold = now - last_429_at - WIDEN_HOLD
    if past_hold <= 0:
        return factor
    excess = (factor - 1.0) * 0.5 ** (past_hold / WIDEN_HALF_LIFE)
    return 1.0 + excess if excess > 0.001 else 1.0


def widened_after_429(factor: float, last_429_at: float, now: float) -> float:
    """The multiplier to store when a 429 is noted at ``now``.

    Args:
        factor: The stored multiplier (1.0 if none).
        last_429_at: When it was stored.
        now: The current time on the same clock.

    Returns:
        The current multiplier times ``WIDEN_STEP`` (capped at ``MAX_WIDEN``); a 429 within a
        second of the previous one keeps at least one step but does not compound (the 429s of
        one burst, seen by every sharer, are one signal).
    """
    current = widen_factor(factor, last_429_at, now)
    if now - last_429_at < 1.0:
        return min(MAX_WIDEN, max(current, WIDEN_STEP))
    return min(MAX_WIDEN, current * WIDEN_STEP)


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

    def note_rate_limited(self) -> None:
        """Record a 429 so every sharer widens its window (see :func:`widened_after_429`)."""
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
        self._widen = (1.0, 0.0)

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
            window *= widen_factor(*self._widen, now)
            while len(self._log) > limit:
                self._log.popleft()
            if len(self._log) >= limit:
                wait = self._log[-limit] + window - now
                if wait > 0:
                    return wait
            self._log.append(now)
            return 0.0

    def note_rate_limited(self) -> None:
        """See :meth:`Budget.note_rate_limited`."""
        with self._lock:
            now = self._clock()
            self._widen = (widened_after_429(*self._widen, now), now)

    def close(self) -> None:
        """Nothing to release."""


class FileBudget:
    """A log in a small binary file (``N`` doubles), shared by every process on the host."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()  # flock is per open file; threads need their own lock
        # Both race-free when many processes start at once: exist_ok, and O_CREAT without
        # O_EXCL opens the file whoever created it.
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        # The widening (factor, last 429) lives beside the log, guarded by the log's flock.
        self._widen_fd = os.open(path.with_suffix(".widen"), os.O_RDWR | os.O_CREAT, 0o600)

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
                window *= widen_factor(*self._read_widen(now), now)
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

    def _read_widen(self, now: float) -> tuple[float, float]:
        raw = os.pread(self._widen_fd, 16, 0)
        if len(raw) < 16:
            return 1.0, 0.0
        factor, last = struct.unpack("<2d", raw)
        if last > now + 1.0:  # from before a reboot (monotonic restarted)
            return 1.0, 0.0
        return factor, last

    def note_rate_limited(self) -> None:
        """See :meth:`Budget.note_rate_limited`."""
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                now = self._clock()
                factor = widened_after_429(*self._read_widen(now), now)
                os.pwrite(self._widen_fd, struct.pack("<2d", factor, now), 0)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the files."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                os.close(self._widen_fd)
                self._fd = -1


# The widening formula of widen_factor(), in Lua (KEYS[2] holds "factor last_429_at").
_REDIS_WIDEN = """
local function widen_factor(raw, now)
  if not raw then return 1.0 end
  local sep = string.find(raw, ' ')
  local factor = tonumber(string.sub(raw, 1, sep - 1))
  local last = tonumber(string.sub(raw, sep + 1))
  if factor <= 1.0 then return 1.0 end
  local past = now - last - tonumber(ARGV[3])
  if past <= 0 then return factor end
  local excess = (factor - 1.0) * math.pow(0.5, past / tonumber(ARGV[4]))
  if excess > 0.001 then return 1.0 + excess end
  return 1.0
end
"""

_REDIS_SCRIPT = _REDIS_WIDEN + """
local limit = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[2]) * widen_factor(redis.call('GET', KEYS[2]), now)
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

_REDIS_NOTE_429 = _REDIS_WIDEN + """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local raw = redis.call('GET', KEYS[2])
local last = 0
if raw then last = tonumber(string.sub(raw, string.find(raw, ' ') + 1)) end
local current = widen_factor(raw, now)
local step, cap = tonumber(ARGV[5]), tonumber(ARGV[6])
local factor
if now - last < 1.0 then factor = math.min(cap, math.max(current, step))
else factor = math.min(cap, current * step) end
redis.call('SET', KEYS[2], string.format('%.6f %.6f', factor, now), 'EX', 3600)
return tostring(factor)
"""


@cache
def _redis_pool(url: str) -> Any:
    """The process's connection pool for ``url`` (redis-py re-creates it after a fork)."""
    import redis

    return redis.ConnectionPool.from_url(url)


class RedisBudget:
    """A log in a Redis list (newest first), updated atomically by a Lua script."""

    def __init__(self, url: str, key: str) -> None:
        import redis  # imported here: only this backend needs it

        self.key = f"amperity-ops:rate:{key}"
        self._keys = [self.key, f"{self.key}:widen"]
        # One connection pool per URL and process: a sensor tick opens a client per tenant,
        # and a fresh pool would connect (and load the script) anew for each of them.
        self._redis = redis.Redis(connection_pool=_redis_pool(url))
        # register_script sends EVALSHA and falls back to EVAL (loading it) when the server
        # does not know the script yet: nothing is created up front, so no first-use race.
        self._script = self._redis.register_script(_REDIS_SCRIPT)
        self._note = self._redis.register_script(_REDIS_NOTE_429)

    def _args(self, limit: int, window: float) -> list[Any]:
        return [limit, repr(window), repr(WIDEN_HOLD), repr(WIDEN_HALF_LIFE),
                repr(WIDEN_STEP), repr(MAX_WIDEN)]

    def try_acquire(self, limit: int, window: float) -> float:
        """See :meth:`Budget.try_acquire`."""
        answer = self._script(keys=self._keys, args=self._args(limit, window))
        return float(answer)

    def note_rate_limited(self) -> None:
        """See :meth:`Budget.note_rate_limited`."""
        self._note(keys=self._keys, args=self._args(0, 0.0))

    def close(self) -> None:
        """Return the connection to the process's pool (kept for the next client)."""
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
                    # CREATE ... IF NOT EXISTS races in Postgres (two creators can both pass
                    # the check; one then fails on the table's row type, DuplicateObject). The
                    # advisory lock serialises creators; the lock ends with the transaction.
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_CREATE_LOCK_ID,))
                    cur.execute(
                        "CREATE TABLE IF NOT EXISTS amperity_ops_rate_budget ("
                        "key text PRIMARY KEY, sends double precision[] NOT NULL DEFAULT '{}')"
                    )
            except (psycopg2.IntegrityError, psycopg2.errors.DuplicateObject,
                    psycopg2.errors.DuplicateTable):
                pass  # a creator without the lock (an older version) won: the table exists

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
            window *= widen_factor(*self._read_widen(cur), now)
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

    def _read_widen(self, cur: Any) -> tuple[float, float]:
        # The widening is a second row, key "<key>#widen", sends = {factor, last_429_at}:
        # no schema change for tables created by earlier versions.
        cur.execute("SELECT sends FROM amperity_ops_rate_budget WHERE key = %s",
                    (f"{self.key}#widen",))
        row = cur.fetchone()
        if not row or not row[0] or len(row[0]) < 2:
            return 1.0, 0.0
        return float(row[0][0]), float(row[0][1])

    def note_rate_limited(self) -> None:
        """See :meth:`Budget.note_rate_limited`."""
        widen_key = f"{self.key}#widen"
        with self._lock, self._conn, self._conn.cursor() as cur:
            cur.execute(
                "INSERT INTO amperity_ops_rate_budget (key) VALUES (%s) "
                "ON CONFLICT (key) DO NOTHING", (widen_key,),
            )
            cur.execute(
                "SELECT sends, extract(epoch from clock_timestamp())::float8 "
                "FROM amperity_ops_rate_budget WHERE key = %s FOR UPDATE", (widen_key,),
            )
            sends, now = cur.fetchone()
            factor, last = (sends[0], sends[1]) if sends and len(sends) >= 2 else (1.0, 0.0)
            cur.execute(
                "UPDATE amperity_ops_rate_budget SET sends = %s WHERE key = %s",
                ([widened_after_429(factor, last, now), now], widen_key),
            )

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


_CREATE_LOCK_ID = 0x616D7072_62756467  # "ampr" "budg": this module's advisory lock id


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

    def note_rate_limited(self) -> None:
        """Tell every sharer a 429 came back: they widen their window for a while.

        A budget without ``note_rate_limited`` (a custom one) is left as it is; a backend that
        cannot be reached is logged and ignored (the 429 is retried with backoff anyway).
        """
        note = getattr(self.budget, "note_rate_limited", None)
        if note is None:
            return
        try:
            note()
        except Exception as err:  # never turn a 429 into a budget failure
            logger.warning("could not share a 429 through the rate budget (%s)",
                           type(err).__name__)

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
