"""The client's proactive budget against the simulator's strict 10 rps limiter: no 429s,
with threads in one process and with two real processes sharing one file budget.

These run in real time (the server's limiter and the client's budget share the real monotonic
clock). To stay exact on a loaded 2-core box they use a generous margin (0.25 s) between the
client's slot and the server's window: a request delayed by the scheduler up to that long
still cannot make the server see 11 in a second. Without the budget, 24 requests would go out
in well under a second and the strict limiter would answer 429s.
"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest

from amperity_ops.client import AmperityClient, RateLimiter
from amperity_ops.client._ratelimit import MemoryBudget, budget_from_url
from amperity_ops.simulator import IN_PROCESS_BASE_URL, Simulator
from amperity_ops_tests.conftest import TENANT, TOKEN

TEST_MARGIN = 0.25


@pytest.mark.slow
def test_threads_sharing_a_client_never_trip_the_strict_limiter(sim: Simulator) -> None:
    """Three threads hammering one client stay under 10 in any second: zero 429s."""
    assert sim.rate_limit_rps == 10.0
    limiter = RateLimiter(MemoryBudget(), rps=10, margin=TEST_MARGIN)
    with AmperityClient(TENANT, base_url=IN_PROCESS_BASE_URL, access_token=TOKEN,
                        transport=sim.transport(), rate_limiter=limiter) as client:
        def work() -> None:
            for _ in range(8):
                list(client.list_segments())

        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    log = sim.request_log(TENANT)
    assert log.count("/api/segments", status=200) == 24
    assert log.count(status=429) == 0


def _requests_in_process(base_url: str, budget_dir: str, count: int) -> None:
    budget = budget_from_url(f"file://{budget_dir}", TENANT)
    limiter = RateLimiter(budget, rps=10, margin=TEST_MARGIN)
    with AmperityClient(TENANT, base_url=base_url, access_token=TOKEN,
                        rate_limiter=limiter) as client:
        for _ in range(count):
            list(client.list_segments())


@pytest.mark.slow
def test_two_processes_share_one_budget_over_http(
    sim: Simulator, sim_server: str, tmp_path: Path
) -> None:
    """Two real processes on one tenant (file budget) reach the server with zero 429s."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_requests_in_process, args=(sim_server, str(tmp_path), 12))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    log = sim.request_log(TENANT)
    assert log.count("/api/segments", status=200) == 24
    assert log.count(status=429) == 0
