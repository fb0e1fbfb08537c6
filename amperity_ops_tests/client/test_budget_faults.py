"""Issue #9: the budget widens after a 429 for every sharer and narrows back; first use of
every backend is race-free with 8 processes starting at once."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pytest

from amperity_ops.client._ratelimit import (
    MAX_WIDEN,
    WIDEN_HALF_LIFE,
    WIDEN_HOLD,
    WIDEN_STEP,
    Budget,
    FileBudget,
    MemoryBudget,
    PostgresBudget,
    RateLimiter,
    RedisBudget,
    widen_factor,
    widened_after_429,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


# ------------------------------------------------------------------------ pure widening


def test_a_429_widens_by_one_step_and_holds() -> None:
    """One 429 widens to WIDEN_STEP, held unchanged for WIDEN_HOLD seconds."""
    factor = widened_after_429(1.0, 0.0, 100.0)
    assert factor == WIDEN_STEP
    assert widen_factor(factor, 100.0, 100.0) == WIDEN_STEP
    assert widen_factor(factor, 100.0, 100.0 + WIDEN_HOLD) == WIDEN_STEP


def test_the_window_narrows_back_by_half_lives_to_exactly_one() -> None:
    """After the hold the excess halves every WIDEN_HALF_LIFE, and ends at 1.0."""
    factor, at = WIDEN_STEP, 100.0
    after_one = widen_factor(factor, at, at + WIDEN_HOLD + WIDEN_HALF_LIFE)
    assert after_one == pytest.approx(1 + (WIDEN_STEP - 1) / 2)
    assert widen_factor(factor, at, at + WIDEN_HOLD + 20 * WIDEN_HALF_LIFE) == 1.0


def test_a_burst_of_429s_is_one_step_and_repeats_compound_to_the_cap() -> None:
    """429s within a second do not compound; one per second does, up to MAX_WIDEN."""
    f = widened_after_429(1.0, 0.0, 100.0)
    assert widened_after_429(f, 100.0, 100.5) == WIDEN_STEP
    now = 100.0
    for _ in range(10):
        now += 1.5
        f = widened_after_429(f, now - 1.5, now)
    assert f == MAX_WIDEN


def test_never_widened_is_one() -> None:
    """A budget that never saw a 429 uses its base window."""
    assert widen_factor(1.0, 0.0, 1e9) == 1.0


# ------------------------------------------------------------------------ shared widening


class FakeClock:
    """A monotonic clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _waits_after_429(budget_a: Budget, budget_b: Budget) -> tuple[float, float]:
    """Fill b's window, note a 429 through a: how long b must wait before and after."""
    for _ in range(2):
        assert budget_b.try_acquire(2, 1.0) == 0.0
    before = budget_b.try_acquire(2, 1.0)
    budget_a.note_rate_limited()
    after = budget_b.try_acquire(2, 1.0)
    return before, after


def test_memory_sharers_widen_together() -> None:
    """A 429 noted by one client widens the window the other client waits on."""
    clock = FakeClock()
    budget = MemoryBudget(clock=clock)
    before, after = _waits_after_429(budget, budget)
    assert before == pytest.approx(1.0)
    assert after == pytest.approx(WIDEN_STEP)


def test_file_sharers_widen_together_and_narrow_back(tmp_path: Path) -> None:
    """Two FileBudgets on one file: a 429 noted by one widens the other, until it decays."""
    clock = FakeClock()
    path = tmp_path / "t.budget"
    a, b = FileBudget(path, clock=clock), FileBudget(path, clock=clock)
    before, after = _waits_after_429(a, b)
    assert (before, after) == (pytest.approx(1.0), pytest.approx(WIDEN_STEP))
    clock.now += WIDEN_HOLD + 20 * WIDEN_HALF_LIFE
    assert b.try_acquire(2, 1.0) == 0.0
    assert b.try_acquire(2, 1.0) == 0.0
    assert b.try_acquire(2, 1.0) == pytest.approx(1.0)
    a.close()
    b.close()


@pytest.mark.redis
def test_redis_sharers_widen_together() -> None:
    """Two Redis budgets on one key: a 429 noted by one widens the other's window."""
    key = f"test-{uuid.uuid4().hex}"
    a, b = RedisBudget(REDIS_URL, key), RedisBudget(REDIS_URL, key)
    before, after = _waits_after_429(a, b)
    assert 0.9 < before <= 1.0
    assert after > before + 0.4  # 1.5 x the window, minus the few ms that passed
    a.close()
    b.close()


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A fresh, empty Postgres schema (no budget table), dropped afterwards."""
    name = f"ao_budget_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(POSTGRES_URL)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        admin.close()


@pytest.mark.postgres
def test_postgres_sharers_widen_together(pg_schema_url: str) -> None:
    """Two Postgres budgets on one key: a 429 noted by one widens the other's window."""
    a, b = PostgresBudget(pg_schema_url, "t"), PostgresBudget(pg_schema_url, "t")
    before, after = _waits_after_429(a, b)
    assert 0.9 < before <= 1.0
    assert after > before + 0.4
    a.close()
    b.close()


def test_limiter_ignores_a_budget_that_cannot_widen() -> None:
    """A custom budget without note_rate_limited is left alone (no crash on a 429)."""

    class Plain:
        def try_acquire(self, limit: int, window: float) -> float:
            return 0.0

        def close(self) -> None:
            pass

    RateLimiter(Plain(), rps=10).note_rate_limited()  # type: ignore[arg-type]


# ------------------------------------------------------------------------ first use, 8 at once


def _first_use(make: Callable[[], Budget], barrier: object, out: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    try:
        budget = make()
        budget.try_acquire(100, 1.0)
        budget.close()
        out.put("ok")  # type: ignore[attr-defined]
    except Exception as err:  # reported to the test, which names it
        out.put(f"{type(err).__name__}: {err}")  # type: ignore[attr-defined]


def _eight_at_once(make: Callable[[], Budget]) -> list[str]:
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_first_use, args=(make, barrier, out)) for _ in range(8)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    return results


@pytest.mark.slow
@pytest.mark.postgres
def test_eight_processes_create_the_postgres_budget_together(pg_schema_url: str) -> None:
    """8 processes starting at once on a schema without the table: all succeed (no
    DuplicateObject), and the table exists once."""
    for _ in range(3):  # the race was seen once in seven tries: give it several chances
        results = _eight_at_once(lambda: PostgresBudget(pg_schema_url, "t"))
        assert results == ["ok"] * 8
        admin = psycopg2.connect(pg_schema_url)
        with admin, admin.cursor() as cur:
            cur.execute("DROP TABLE amperity_ops_rate_budget")
        admin.close()


@pytest.mark.slow
def test_eight_processes_create_the_file_budget_together(tmp_path: Path) -> None:
    """8 processes starting at once with no budget directory: all succeed."""
    path = tmp_path / "deep" / "dir" / "t.budget"
    assert _eight_at_once(lambda: FileBudget(path)) == ["ok"] * 8


@pytest.mark.slow
@pytest.mark.redis
def test_eight_processes_use_a_fresh_redis_budget_together() -> None:
    """8 processes starting at once on a Redis that has never seen the script or key."""
    import redis

    redis.Redis.from_url(REDIS_URL).script_flush()
    key = f"test-{uuid.uuid4().hex}"
    assert _eight_at_once(lambda: RedisBudget(REDIS_URL, key)) == ["ok"] * 8
