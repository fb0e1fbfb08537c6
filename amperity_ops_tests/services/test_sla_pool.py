"""The SLA tick over many tenants at once: pool, per-tenant bounds, timeouts, budget, batching.

Twenty simulated tenants answering each request after 50 ms (the simulator's ``slow_seconds``,
an ``asyncio.sleep`` that does not hold up other requests), a pool of 8. What is checked comes
from the simulator's own request logs (arrival times included) and the store, not from timings,
except where the point is that a hanging tenant does not hold up the tick.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from amperity_ops.client import AmperityClient
from amperity_ops.services.poll import poll_workflow_runs
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.sla_guard import SlaTickResult, run_sla_tick
from amperity_ops.services.tenant_pool import for_each_tenant_at_once
from amperity_ops.settings import ConfigError, TenantConfig, load_ops_config
from amperity_ops.simulator import IN_PROCESS_BASE_URL, Faults, ManualClock, Simulator, TenantSpec
from amperity_ops_tests.services.helpers import TOKEN, make_config, make_runtime, sqlite_url

LATENCY_S = 0.05
POOL = 8


def _names(n: int) -> list[str]:
    return [f"t{i:02d}" for i in range(n)]


def _sim(
    names: Sequence[str], clock: ManualClock, *, rate_limit_rps: float | None = None
) -> Simulator:
    sim = Simulator(
        [TenantSpec(tenant_id=t, static_tokens=(TOKEN,), seed=i, schedules=False)
         for i, t in enumerate(names)],
        clock=clock,
        rate_limit_rps=rate_limit_rps,
    )
    for t in names:
        sim.set_faults(t, Faults(slow_seconds=LATENCY_S))
    return sim


def _runtime(
    sim: Simulator, clock: ManualClock, tmp_path: Path, names: Sequence[str], **sensor: Any
) -> OpsRuntime:
    config = make_config(
        tenants=[{"name": t, "tenant_id": t, "access_token": TOKEN} for t in names],
        auto_stop={"max_stops_per_hour": 100},
        sensor={"concurrency": POOL, **sensor},
    )
    return make_runtime(sim, clock, sqlite_url(tmp_path), config)


def _tick(runtime: OpsRuntime, last: SlaTickResult | None = None, **kw: Any) -> SlaTickResult:
    return run_sla_tick(runtime, now=runtime.clock(), budget_s=kw.pop("budget_s", 30.0),
                        last_tick_at=last.started_at if last else None, deliver=False, **kw)


def test_every_tenant_is_evaluated_side_by_side_with_two_requests_each(
    tmp_path: Path, clock: ManualClock
) -> None:
    """20 tenants, pool 8: all evaluated, every breach stopped, 2 requests each when steady."""
    names = _names(20)
    sim = _sim(names, clock)
    late = {t: sim.tenant(t).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
            for t in names}
    runtime = _runtime(sim, clock, tmp_path, names)
    first = _tick(runtime)
    assert [t.tenant for t in first.tenants] == names  # reported in the tick's order
    assert first.errors == {}
    assert sorted(s.workflow_id for s in first.stop_requests) == sorted(r.id for r in late.values())
    # Side by side: with one tenant at a time (>= 2 x 50 ms each) no two tenants' first
    # requests could arrive within 50 ms of each other.
    firsts = sorted(min(e.at for e in sim.request_log(t).entries() if e.at is not None)
                    for t in names)
    assert any(b - a < LATENCY_S for a, b in itertools.pairwise(firsts))
    clock.advance(timedelta(minutes=1))
    for t in names:
        sim.request_log(t).reset()
    second = _tick(runtime, first)
    assert second.stop_requests == []
    assert {t: sim.request_log(t).total for t in names} == dict.fromkeys(names, 2)
    assert [t.requests for t in second.tenants] == [2] * 20


def _budgeted_factory(clock: ManualClock, sim: Simulator) -> Any:
    """Clients with the product's own request budget (10 per second, this process), as a
    tenant over a slow network would configure it (``rate_limit_margin_ms: 100``)."""

    def factory(tenant: TenantConfig) -> AmperityClient:
        return AmperityClient(tenant.tenant_id, base_url=IN_PROCESS_BASE_URL,
                              access_token=TOKEN, transport=sim.transport(), clock=clock.now,
                              rate_limit_rps=10, rate_limit_backend="memory",
                              # A loaded 2-core test host delays a request between its slot
                              # and its arrival by more than the default 25 ms now and then.
                              rate_limit_margin=0.1)

    return factory


def test_no_tenant_ever_sees_more_than_ten_requests_in_a_second(
    tmp_path: Path, clock: ManualClock
) -> None:
    """A tenant with 15 pages of running runs, beside 7 others: never 11 in one second."""
    names = _names(8)
    sim = _sim(names, clock, rate_limit_rps=10)  # the simulator's strict limiter is on too
    for i in range(1_450):
        sim.tenant("t00").add_run(name=f"Courier Group {i}", started_ago=timedelta(minutes=5))
    for t in names[1:]:
        sim.tenant(t).add_run(name="Courier Group B", started_ago=timedelta(minutes=5))
    runtime = _runtime(sim, clock, tmp_path, names)
    runtime.client_factory = _budgeted_factory(clock, sim)
    result = _tick(runtime)
    assert result.errors == {}
    big = next(t for t in result.tenants if t.tenant == "t00")
    assert big.cut_short is None
    assert big.active == 1_450
    assert sim.request_log("t00").total == 16  # 15 pages of running runs + the ended listing
    for t in names:
        log = sim.request_log(t)
        assert log.count(status=429) == 0
        assert log.busiest_window(1.0) <= 10


def test_a_hanging_tenant_costs_only_its_own_timeout(tmp_path: Path, clock: ManualClock) -> None:
    """A tenant answering after 5 s is left behind at its 0.5 s timeout; the others are acted on."""
    names = _names(20)
    sim = _sim(names, clock)
    sim.set_faults("t03", Faults(slow_seconds=5.0))
    late = {t: sim.tenant(t).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
            for t in names}
    runtime = _runtime(sim, clock, tmp_path, names, tenant_timeout="500ms")
    result = _tick(runtime)
    assert list(result.errors) == ["t03"]
    assert "tenant_timeout" in result.errors["t03"]
    assert "t03: not reachable" in result.summary()
    assert [t.tenant for t in result.tenants] == [t for t in names if t != "t03"]
    assert sorted(s.workflow_id for s in result.stop_requests) == sorted(
        r.id for t, r in late.items() if t != "t03")
    # Left behind, not waited for: well before its 5 s answer, and nothing of it was stored.
    assert result.elapsed_s < 3.0
    assert runtime.store.open_alert_tracks("t03") == {}


def test_the_budget_starts_tenants_in_order_and_the_next_tick_resumes_with_the_rest(
    tmp_path: Path, clock: ManualClock
) -> None:
    """A spent budget leaves the tail unstarted; the next tick starts there; all are reached."""
    names = _names(20)
    sim = _sim(names, clock)
    runtime = _runtime(sim, clock, tmp_path, names, concurrency=2)
    first = _tick(runtime, budget_s=0.2)  # 2 at a time, >= 100 ms each: a few tenants only
    started = [t.tenant for t in first.tenants] + list(first.errors)
    assert first.resume_tenant is not None
    cut = names.index(first.resume_tenant)
    assert 0 < cut < len(names)
    assert sorted(started) == names[:cut]  # a prefix of the order, every one evaluated
    assert f"resuming with tenant {first.resume_tenant}" in first.summary()
    clock.advance(timedelta(minutes=1))
    second = _tick(runtime, first, budget_s=30.0, resume_tenant=first.resume_tenant)
    assert [t.tenant for t in second.tenants] == names[cut:] + names[:cut]
    assert second.resume_tenant is None


def _statements(runtime: OpsRuntime, names: Sequence[str], sim: Simulator,
                clock: ManualClock) -> int:
    """SQL statements one tick sends to the store (a breached run per tenant)."""
    for t in names:
        sim.tenant(t).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    count = [0]

    def counted(*_: object) -> None:
        count[0] += 1

    event.listen(runtime.store.engine, "before_cursor_execute", counted)
    try:
        result = _tick(runtime)
    finally:
        event.remove(runtime.store.engine, "before_cursor_execute", counted)
    assert len(result.stop_requests) == len(names)
    return count[0]


def test_the_store_work_of_a_tick_does_not_grow_with_the_tenants(
    tmp_path: Path, clock: ManualClock
) -> None:
    """3 tenants or 20, each with an alert and a stop: the same number of SQL statements."""
    few, many = _names(3), _names(20)
    sim_few, sim_many = _sim(few, clock), _sim(many, clock)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    n_few = _statements(_runtime(sim_few, clock, tmp_path / "a", few), few, sim_few, clock)
    n_many = _statements(_runtime(sim_many, clock, tmp_path / "b", many), many, sim_many, clock)
    assert n_few == n_many
    assert n_many <= 15


def test_ticks_leave_no_threads_behind(tmp_path: Path, clock: ManualClock) -> None:
    """Five ticks over 20 tenants: the pool's threads end with each tick."""
    names = _names(20)
    sim = _sim(names, clock)
    runtime = _runtime(sim, clock, tmp_path, names)
    before = threading.active_count()
    last = None
    for _ in range(5):
        last = _tick(runtime, last)
        clock.advance(timedelta(minutes=1))
    assert threading.active_count() <= before + POOL  # idle workers may linger a moment
    for thread in threading.enumerate():
        if thread.name.startswith("amperity-tenant"):
            thread.join(timeout=5)
    assert not [t for t in threading.enumerate() if t.name.startswith("amperity-tenant")]


def test_pool_settings_stop_at_load_naming_the_file_and_field(tmp_path: Path) -> None:
    """sensor.concurrency and sensor.tenant_timeout out of range: a ConfigError that says so."""
    cases = {
        "sensor: {concurrency: 0}": "sensor.concurrency: Input should be greater than or equal",
        "sensor: {concurrency: 1000}": "sensor.concurrency: Input should be less than or equal",
        "sensor: {tenant_timeout: 45s}": "tenant_timeout must be more than 0s and at most",
    }
    for text, expected in cases.items():
        path = tmp_path / "policy.yaml"
        path.write_text(text + "\ntenants: [{tenant_id: t, access_token: x}]\n")
        with pytest.raises(ConfigError) as info:
            load_ops_config(path)
        assert str(info.value).startswith(str(path))
        assert expected in str(info.value)
    path.write_text("sensor: {concurrency: 4, tenant_timeout: 5s}\n"
                    "tenants: [{tenant_id: t, access_token: x}]\n")
    sensor = load_ops_config(path).sensor
    assert (sensor.concurrency, sensor.tenant_timeout) == (4, timedelta(seconds=5))


def test_the_poll_reads_tenants_side_by_side_and_one_failure_hides_no_other(
    tmp_path: Path, clock: ManualClock
) -> None:
    """for_each_tenant_at_once: every tenant polled in order, a refused tenant reported alone."""
    names = _names(12)
    sim = _sim(names, clock)
    for t in names:
        sim.tenant(t).add_run(name="Courier Group A", started_ago=timedelta(minutes=5))
    runtime = _runtime(sim, clock, tmp_path, names)
    broken = TenantConfig.model_validate({"name": "broken", "tenant_id": "nope",
                                          "access_token": TOKEN})
    tenants = [*runtime.tenants[:6], broken, *runtime.tenants[6:]]
    now = clock.now()
    reports, errors = for_each_tenant_at_once(
        tenants,
        lambda tenant, client: poll_workflow_runs(client, runtime.store, tenant=tenant.name,
                                                  now=now),
        runtime.client_factory,
        concurrency=POOL,
    )
    assert list(reports) == names
    assert list(errors) == ["broken"]
    assert all(len(r.active) == 1 for r in reports.values())
    assert all(runtime.store.get_watermark(t, "workflow_runs") == now for t in names)
