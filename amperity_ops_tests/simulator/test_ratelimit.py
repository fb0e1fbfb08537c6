"""The strict per-tenant rate limit (sliding one-second window), with an injected clock."""

from __future__ import annotations

from amperity_ops.simulator import ManualClock, Simulator, TenantSpec
from amperity_ops.simulator._ratelimit import SlidingWindowLimiter


class FakeMonotonic:
    """A hand-moved monotonic clock for the limiter."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_limiter_admits_n_in_any_one_second_window() -> None:
    """10 rps: the 11th request inside one second is refused, and admitted again 1 s later."""
    clock = FakeMonotonic()
    limiter = SlidingWindowLimiter(10, clock=clock)
    results = []
    for _ in range(11):
        results.append(limiter.admit("acme"))
        clock.t += 0.05
    assert results == [True] * 10 + [False]
    clock.t = 1000.0 + 1.0  # the first admitted request is now exactly a second old
    assert limiter.admit("acme")
    assert not limiter.admit("acme")


def test_refused_requests_do_not_count() -> None:
    """A burst of 429s does not extend the wait: only admitted requests fill the window."""
    clock = FakeMonotonic()
    limiter = SlidingWindowLimiter(2, clock=clock)
    assert limiter.admit("acme")
    assert limiter.admit("acme")
    for _ in range(50):
        clock.t += 0.01
        assert not limiter.admit("acme")
    clock.t = 1001.0
    assert limiter.admit("acme")


def test_sliding_not_fixed_window() -> None:
    """Requests late in one second still count early in the next (no fixed-second reset)."""
    clock = FakeMonotonic()
    limiter = SlidingWindowLimiter(3, clock=clock)
    clock.t = 1000.9
    assert all(limiter.admit("acme") for _ in range(3))
    clock.t = 1001.1
    assert not limiter.admit("acme")
    clock.t = 1001.95
    assert limiter.admit("acme")


def test_tenants_have_separate_budgets() -> None:
    """One tenant's requests do not use another's budget."""
    clock = FakeMonotonic()
    limiter = SlidingWindowLimiter(1, clock=clock)
    assert limiter.admit("acme")
    assert limiter.admit("beta")
    assert not limiter.admit("acme")


def test_api_answers_429_with_error_body(clock: ManualClock) -> None:
    """Over the limit the API answers 429 with {status, message, request_id}; logged as 429."""
    fake = FakeMonotonic()
    sim = Simulator([TenantSpec("acme", static_tokens=("t",), schedules=False)], clock=clock,
                    rate_limit_rps=10, rate_limit_clock=fake)
    with sim.http_client("acme") as client:
        statuses = [client.get("/segments").status_code for _ in range(12)]
        body = client.get("/segments").json()
        fake.t += 1.0
        after = client.get("/segments").status_code
    assert statuses == [200] * 10 + [429, 429]
    assert body["status"] == 429
    assert "10 requests per second" in body["message"]
    assert body["request_id"]
    assert after == 200
    assert sim.request_log("acme").count(status=429) == 3


def test_limiter_can_be_switched_off_at_run_time(sim: Simulator) -> None:
    """set_rate_limit(None) turns the limiter off; set_rate_limit(1) back on."""
    sim.set_rate_limit(None)
    with sim.http_client("acme") as client:
        assert all(client.get("/segments").status_code == 200 for _ in range(30))
        sim.set_rate_limit(1)
        assert [client.get("/segments").status_code for _ in range(2)] == [200, 429]
    assert sim.rate_limit_rps == 1
