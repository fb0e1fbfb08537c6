"""The proactive rate budget: sliding-log exactness, and sharing across threads, processes,
Redis and Postgres."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from amperity_ops.client._ratelimit import (
    FileBudget,
    MemoryBudget,
    PostgresBudget,
    RateLimiter,
    RedisBudget,
    budget_from_url,
    window_for,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


class FakeClock:
    """A monotonic clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


SLACK = 0.2
"""Seconds a send's timestamp may lag its slot on a loaded box (real-time tests only).

Those tests stamp each send right *after* ``acquire`` returns; a thread descheduled in between
stamps late. If no ``window`` holds more than N slots, no ``window - SLACK`` holds more than N
stamps and the stamps span at least ``window - SLACK``, as long as no stamp lags by more than
SLACK. Checking that weaker form keeps the tests exact about the limiter and immune to the
scheduler; an unlimited sender (all sends within milliseconds) still fails them.
"""


def max_in_window(times: list[float], window: float) -> int:
    """The largest number of sends inside any half-open window of `window` seconds."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_window_for_splits_rates_into_limit_and_window() -> None:
    """10 rps is 10 per 1 s; fractional rates keep the same average; nonsense is refused."""
    assert window_for(10.0) == (10, 1.0)
    assert window_for(2.5) == (2, 0.8)
    assert window_for(0.5) == (1, 2.0)
    with pytest.raises(ValueError, match="rate_limit_rps"):
        window_for(0)


def test_sliding_log_never_allows_more_than_limit_in_any_window() -> None:
    """With a fake clock, 100 acquisitions never put more than 10 in any 1 s window."""
    clock = FakeClock()
    limiter = RateLimiter(MemoryBudget(clock=clock), rps=10, margin=0.025, sleep=clock.sleep)
    sends = []
    for _ in range(100):
        limiter.acquire()
        sends.append(clock())
    assert max_in_window(sends, 1.0) == 10
    # ... while still going at 10 per (1 + margin) seconds: 100 sends in ~9.2 s.
    assert sends[-1] - sends[0] == pytest.approx(9 * 1.025, abs=1e-6)


def test_acquire_waits_exactly_until_the_nth_previous_send_ages_out() -> None:
    """The 11th request waits window+margin after the 1st, not a fixed tick."""
    clock = FakeClock()
    limiter = RateLimiter(MemoryBudget(clock=clock), rps=10, margin=0.05, sleep=clock.sleep)
    for _ in range(10):
        assert limiter.acquire() == 0.0
    clock.now += 0.3
    waited = limiter.acquire()
    assert waited == pytest.approx(0.75)


def test_file_budget_survives_a_corrupt_or_stale_file(tmp_path: Path) -> None:
    """Garbage bytes or entries from before a reboot do not block the budget."""
    clock = FakeClock()
    path = tmp_path / "b.budget"
    path.write_bytes(b"\x00" * 5 + b"\xff" * 80)  # torn write: odd length, huge stale values
    budget = FileBudget(path, clock=clock)
    assert budget.try_acquire(10, 1.0) == 0.0
    budget.close()


def test_memory_budget_is_shared_by_threads() -> None:
    """Four threads on one in-memory budget never exceed the limit in any window together."""
    limiter = RateLimiter(MemoryBudget.shared(f"t-{uuid.uuid4().hex}"), rps=40, margin=0.01)
    sends: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(15):
            limiter.acquire()
            with lock:
                sends.append(time.monotonic())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sends) == 60
    assert max_in_window(sends, 1.0 - SLACK) <= 40
    assert max(sends) - min(sends) >= 1.0 - SLACK  # the 41st had to wait for the window


def _acquire_in_process(path: str, count: int, rps: float, out: multiprocessing.Queue) -> None:
    limiter = RateLimiter(FileBudget(Path(path)), rps=rps, margin=0.01)
    stamps = []
    for _ in range(count):
        limiter.acquire()
        stamps.append(time.monotonic())
    out.put(stamps)


@pytest.mark.slow
def test_three_processes_share_one_file_budget(tmp_path: Path) -> None:
    """Three real processes on one file budget never exceed the limit in any window together."""
    ctx = multiprocessing.get_context("fork")
    out: multiprocessing.Queue = ctx.Queue()
    path = str(tmp_path / "tenant.budget")
    procs = [ctx.Process(target=_acquire_in_process, args=(path, 14, 20, out)) for _ in range(3)]
    for p in procs:
        p.start()
    sends = [t for _ in procs for t in out.get(timeout=30)]
    for p in procs:
        p.join(timeout=10)
        assert p.exitcode == 0
    assert len(sends) == 42
    assert max_in_window(sends, 1.0 - SLACK) <= 20
    assert max(sends) - min(sends) >= 2.0 - SLACK  # 42 sends at 20 per second: three windows


def _two_hosts(make: Callable[[], RateLimiter], per_host: int) -> list[float]:
    """Two limiters (as if on two hosts) acquiring concurrently; returns send times."""
    sends: list[float] = []
    lock = threading.Lock()
    limiters = [make(), make()]

    def work(limiter: RateLimiter) -> None:
        for _ in range(per_host):
            limiter.acquire()
            with lock:
                sends.append(time.monotonic())

    threads = [threading.Thread(target=work, args=(lim,)) for lim in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for lim in limiters:
        lim.close()
    return sends


@pytest.mark.redis
def test_redis_budget_is_shared_by_two_clients() -> None:
    """Two Redis-backed limiters on one key stay within the limit together."""
    key = f"test-{uuid.uuid4().hex}"
    try:
        sends = _two_hosts(lambda: RateLimiter(RedisBudget(REDIS_URL, key), rps=20), 15)
    except Exception as err:  # pragma: no cover - only when the server is down
        if "Connection refused" in str(err):
            pytest.skip("Redis is not running")
        raise
    assert len(sends) == 30
    assert max_in_window(sends, 1.0 - SLACK) <= 20
    assert max(sends) - min(sends) >= 1.0 - SLACK


@pytest.mark.postgres
def test_postgres_budget_is_shared_by_two_clients() -> None:
    """Two Postgres-backed limiters on one key stay within the limit together."""
    key = f"test-{uuid.uuid4().hex}"
    sends = _two_hosts(lambda: RateLimiter(PostgresBudget(POSTGRES_URL, key), rps=20), 15)
    assert len(sends) == 30
    assert max_in_window(sends, 1.0 - SLACK) <= 20
    assert max(sends) - min(sends) >= 1.0 - SLACK


def test_budget_from_url_picks_each_backend(tmp_path: Path) -> None:
    """The backend setting selects file (default, or a dir), memory, redis and postgres."""
    file_budget = budget_from_url("file", "acme")
    assert isinstance(file_budget, FileBudget)
    file_budget.close()
    in_dir = budget_from_url(f"file://{tmp_path}", "acme")
    assert isinstance(in_dir, FileBudget)
    assert in_dir.path.parent == tmp_path
    in_dir.close()
    assert budget_from_url("memory", "acme") is budget_from_url("memory", "acme")
    redis_budget = budget_from_url(REDIS_URL, "acme")
    assert isinstance(redis_budget, RedisBudget)
    redis_budget.close()


def test_unknown_backend_names_the_setting_but_not_the_url() -> None:
    """A bad backend URL raises naming the setting, without echoing a password."""
    with pytest.raises(ValueError, match="AMPERITY_RATE_LIMIT_BACKEND") as info:
        budget_from_url("mysql://user:hunter2@db/x", "acme")
    assert "hunter2" not in str(info.value)


@pytest.mark.redis
def test_unreachable_backend_fails_closed_with_a_clear_error() -> None:
    """A budget that cannot be reached raises AmperityError instead of sending unbudgeted."""
    from amperity_ops.client import AmperityError

    limiter = RateLimiter(RedisBudget("redis://:hunter2@127.0.0.1:1/0", "k"), rps=10)
    with pytest.raises(AmperityError, match="rate budget") as info:
        limiter.acquire()
    assert "hunter2" not in str(info.value)
