"""The SLA tick over the simulator: two listings, one alert per level, one stop per run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from amperity_ops.client import WorkflowRun
from amperity_ops.services.poll import poll_workflow_runs
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.sla_guard import SlaTickResult, run_sla_tick
from amperity_ops.simulator import ManualClock, Simulator, TenantSpec
from amperity_ops_tests.services.helpers import (
    STOP_POLICY,
    TENANT,
    TOKEN,
    make_config,
    make_runtime,
    sqlite_url,
)
from amperity_ops_tests.store.conftest import postgres_schema_url


def _tick(runtime: OpsRuntime, last: SlaTickResult | None = None, **kw: object) -> SlaTickResult:
    return run_sla_tick(
        runtime,
        now=runtime.clock(),
        budget_s=float(kw.pop("budget_s", 30.0)),  # type: ignore[arg-type]
        last_tick_at=last.started_at if last else None,
        deliver=False,
        **kw,  # type: ignore[arg-type]
    )


def _levels(runtime: OpsRuntime) -> list[tuple[str, str]]:
    return sorted(
        (i.message.workflow_id, i.message.level.value) for i in runtime.store.outbox_items()
    )


def test_two_ticks_ask_for_one_stop(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """A breached stop-policy run gets one RunRequest across ticks, and one ledger row."""
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    first = _tick(runtime)
    assert [s.run_key for s in first.stop_requests] == [f"stop:{TENANT}:{run.id}"]
    reason = first.stop_requests[0].reason
    assert reason == "SLA policy courier-groups: runtime 3h 00m over max 2h 00m", reason
    clock.advance(timedelta(minutes=1))
    second = _tick(runtime, first)
    assert second.stop_requests == []
    records = runtime.store.stop_records(TENANT)
    assert [(r.workflow_id, r.requested_by, r.dry_run) for r in records] == [
        (run.id, "sensor amperity_workflow_sla_sensor", False)
    ]
    assert _levels(runtime) == [(run.id, "breached")]


def test_fresh_process_on_the_same_store_neither_alerts_nor_stops_again(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """A new runtime and Store on the same URL (a daemon restart) repeats nothing."""
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    first = _tick(make_runtime(quiet_sim, clock, store_url))
    assert len(first.stop_requests) == 1
    clock.advance(timedelta(minutes=1))
    restarted = make_runtime(quiet_sim, clock, store_url)
    again = _tick(restarted)  # no cursor either: the store alone prevents repeats
    assert again.stop_requests == []
    assert _levels(restarted) == [(run.id, "breached")]


def test_unknown_state_is_never_stopped(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """A breached run in a state we do not recognise is alerted on but never stopped."""
    world = quiet_sim.tenant(TENANT)
    unknown = world.add_run(
        name="Courier Group U", state="Quiescing", started_ago=timedelta(hours=4)
    )
    with runtime.client(TENANT) as client:  # the polling asset is what first sees such a run
        poll_workflow_runs(client, runtime.store, tenant=TENANT, now=clock.now())
    result = _tick(runtime)
    assert result.stop_requests == []
    assert result.dry_runs == []
    assert "1 in an unrecognised state (never stopped)" in result.summary()
    assert _levels(runtime) == [(unknown.id, "breached")]
    assert runtime.store.stop_records(TENANT) == []


def test_dry_run_says_what_it_would_stop_once(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """In dry run no stop is requested; the tick says what it would have stopped, once."""
    runtime = make_runtime(quiet_sim, clock, store_url, make_config(auto_stop={"dry_run": True}))
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    first = _tick(runtime)
    assert first.stop_requests == []
    assert len(first.dry_runs) == 1
    assert run.id in first.dry_runs[0]
    assert first.dry_runs[0].startswith("would have stopped Courier Group A")
    assert "DRY RUN" in first.summary()
    clock.advance(timedelta(minutes=1))
    assert _tick(runtime, first).dry_runs == []
    [note] = runtime.store.stop_records(TENANT)
    assert (note.dry_run, note.result, note.finished_at) == (True, "dry_run", first.started_at)
    assert quiet_sim.tenant(TENANT).state_of(run.id) == "running"


def test_hourly_cap_holds_across_ticks(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """With max_stops_per_hour=2, three breached runs give two stops; the third waits an hour."""
    runtime = make_runtime(
        quiet_sim, clock, store_url, make_config(auto_stop={"max_stops_per_hour": 2})
    )
    world = quiet_sim.tenant(TENANT)
    ids = [
        world.add_run(name=f"Courier Group {i}", started_ago=timedelta(hours=3)).id
        for i in range(3)
    ]
    first = _tick(runtime)
    assert len(first.stop_requests) == 2
    assert "hourly cap" in first.summary()
    clock.advance(timedelta(minutes=30))
    assert _tick(runtime, first).stop_requests == []
    clock.advance(timedelta(minutes=31))
    later = _tick(runtime, first)
    assert [s.workflow_id for s in later.stop_requests] == [
        i for i in ids if i not in {s.workflow_id for s in first.stop_requests}
    ]


def test_disabled_auto_stop_only_alerts(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """With auto_stop disabled a breach is alerted and nothing is requested."""
    runtime = make_runtime(quiet_sim, clock, store_url, make_config(auto_stop={"enabled": False}))
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    result = _tick(runtime)
    assert result.stop_requests == []
    assert _levels(runtime) == [(run.id, "breached")]


def test_alerts_escalate_and_resolve_once(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """warning, then breached, then resolved when the run ends: one message per level."""
    world = quiet_sim.tenant(TENANT)
    config = make_config(
        policies=[
            {"name": "slow", "match": {"name": "Nightly*"}, "warn_after": "1h", "max_runtime": "2h"}
        ]
    )
    runtime.config = config
    run = world.add_run(name="Nightly Load", started_ago=timedelta(minutes=61))
    last = _tick(runtime)
    assert _levels(runtime) == [(run.id, "warning")]
    clock.advance(timedelta(minutes=60))
    last = _tick(runtime, last)
    clock.advance(timedelta(minutes=1))
    last = _tick(runtime, last)
    assert _levels(runtime) == [(run.id, "breached"), (run.id, "warning")]
    world.finish_run(run.id, "succeeded")
    clock.advance(timedelta(minutes=1))
    last = _tick(runtime, last)
    clock.advance(timedelta(minutes=1))
    _tick(runtime, last)
    assert _levels(runtime) == [(run.id, "breached"), (run.id, "resolved"), (run.id, "warning")]
    assert last.stop_requests == []


def test_steady_state_tick_makes_two_requests(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """With history and active runs, a steady-state tick is two listings, nothing else."""
    world = quiet_sim.tenant(TENANT)
    world.add_history(2_000, active=20, days=30)
    last = _tick(runtime)
    clock.advance(timedelta(minutes=1))
    quiet_sim.request_log(TENANT).reset()
    result = _tick(runtime, last)
    assert result.requests == 2
    assert quiet_sim.request_log(TENANT).total == 2


def test_time_budget_resumes_with_the_next_tenant(tmp_path: Path, clock: ManualClock) -> None:
    """When the budget is spent after one tenant, the next tick starts with the other."""
    sim = Simulator(
        [
            TenantSpec(tenant_id=t, static_tokens=(TOKEN,), seed=1, schedules=False)
            for t in ("acme", "acme-sb")
        ],
        clock=clock,
        rate_limit_rps=None,
    )
    tenants = [{"name": t, "tenant_id": t, "access_token": TOKEN} for t in ("acme", "acme-sb")]
    runtime = make_runtime(sim, clock, sqlite_url(tmp_path), make_config(tenants=tenants))
    ticks = iter(range(1000))
    first = run_sla_tick(
        runtime, now=clock.now(), budget_s=0.5, deliver=False, monotonic=lambda: float(next(ticks))
    )
    assert [t.tenant for t in first.tenants] == ["acme"]
    assert first.resume_tenant == "acme-sb"
    assert "resuming with tenant acme-sb" in first.summary()
    second = run_sla_tick(
        runtime, now=clock.now(), budget_s=30, deliver=False, resume_tenant=first.resume_tenant
    )
    assert [t.tenant for t in second.tenants] == ["acme-sb", "acme"]


@pytest.mark.postgres
def test_restart_on_postgres_neither_alerts_nor_stops_again(
    quiet_sim: Simulator, clock: ManualClock
) -> None:
    """The same no-repeat guarantee holds with the store on the local Postgres."""
    for url in postgres_schema_url():
        run = quiet_sim.tenant(TENANT).add_run(
            name="Courier Group A", started_ago=timedelta(hours=3)
        )
        first = _tick(make_runtime(quiet_sim, clock, url))
        assert [s.workflow_id for s in first.stop_requests] == [run.id]
        clock.advance(timedelta(minutes=1))
        restarted = make_runtime(quiet_sim, clock, url)
        assert _tick(restarted).stop_requests == []
        assert _levels(restarted) == [(run.id, "breached")]
        restarted.store.close()


def test_after_a_long_pause_alerted_runs_still_resolve(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """A run alerted on, which ended while the sensor was off for a day, is resolved by id."""
    world = quiet_sim.tenant(TENANT)
    run = world.add_run(name="Courier Group A", started_ago=timedelta(minutes=100))
    first = _tick(runtime)
    assert _levels(runtime) == [(run.id, "warning")]
    world.finish_run(run.id, "succeeded")
    clock.advance(timedelta(days=1))
    quiet_sim.request_log(TENANT).reset()
    later = _tick(runtime, first)
    assert _levels(runtime) == [(run.id, "resolved"), (run.id, "warning")]
    assert later.requests == 3  # two listings (the ended one an hour back) + one read by id


def test_one_unreachable_tenant_does_not_silence_the_others(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """A tenant whose token is refused is reported; the other tenant's breach is still acted on."""
    tenants = [
        {"name": "broken", "tenant_id": "nope", "access_token": TOKEN},
        {"name": TENANT, "tenant_id": TENANT, "access_token": TOKEN},
    ]
    runtime = make_runtime(quiet_sim, clock, store_url, make_config(tenants=tenants))
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    result = _tick(runtime)
    assert [s.workflow_id for s in result.stop_requests] == [run.id]
    assert list(result.errors) == ["broken"]
    assert "broken: not reachable" in result.summary()


ALERT_ONLY = {**STOP_POLICY, "action": "alert"}


def _ghost(runtime: OpsRuntime, started_ago: timedelta) -> WorkflowRun:
    """A run the store holds as running but the API does not know (404)."""
    ghost = WorkflowRun.model_validate(
        {
            "id": "wf-20261031-00001-GHOST1",
            "state": "running",
            "type": "courier.group/run",
            "name": "Courier Group Ghost",
            "tenant": TENANT,
            "created_at": (runtime.clock() - started_ago).isoformat(),
        }
    )
    runtime.store.upsert_runs(TENANT, [ghost], seen_at=runtime.clock())
    return ghost


def test_vanished_alerted_run_is_resolved_marked_and_not_reread(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """An alerted run answering 404 is resolved once, marked vanished, and never re-read."""
    runtime = make_runtime(quiet_sim, clock, store_url, make_config(policies=[ALERT_ONLY]))
    ghost = _ghost(runtime, timedelta(hours=3))
    first = _tick(runtime)  # evaluated as last stored: breached
    assert _levels(runtime) == [(ghost.id, "breached")]
    clock.advance(timedelta(minutes=1))
    second = _tick(runtime, first)  # alerted, not listed: re-read by id, 404
    assert second.requests == 3
    assert second.tenants[0].vanished == [ghost.id]
    assert _levels(runtime) == [(ghost.id, "breached"), (ghost.id, "resolved")]
    assert runtime.store.vanished_run_ids(TENANT) == {ghost.id}
    clock.advance(timedelta(minutes=1))
    third = _tick(runtime, second)
    assert third.requests == 2
    assert third.tenants[0].active == 0
    assert len(_levels(runtime)) == 2


def test_dry_run_note_does_not_block_the_real_stop_later(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """A run noted in dry run is requested for real, once, after dry run is turned off."""
    runtime = make_runtime(quiet_sim, clock, store_url, make_config(auto_stop={"dry_run": True}))
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    first = _tick(runtime)
    assert (len(first.dry_runs), first.stop_requests) == (1, [])
    runtime.config = make_config()
    clock.advance(timedelta(minutes=1))
    second = _tick(runtime, first)
    assert [s.run_key for s in second.stop_requests] == [f"stop:{TENANT}:{run.id}"]
    clock.advance(timedelta(minutes=1))
    assert _tick(runtime, second).stop_requests == []
    assert sorted(r.dry_run for r in runtime.store.stop_records(TENANT)) == [False, True]


def test_a_huge_tenant_is_cut_at_the_budget_and_the_next_tenant_goes_first(
    tmp_path: Path, clock: ManualClock
) -> None:
    """Inside one tenant the budget is checked between pages; the next tick resumes after it."""
    sim = Simulator(
        [
            TenantSpec(tenant_id=t, static_tokens=(TOKEN,), seed=1, schedules=False)
            for t in ("acme", "acme-sb")
        ],
        clock=clock,
        rate_limit_rps=None,
    )
    tenants = [{"name": t, "tenant_id": t, "access_token": TOKEN} for t in ("acme", "acme-sb")]
    # One tenant at a time: a clock that moves a second per look is only deterministic when
    # no second tenant looks at it meanwhile (the pool's budget: test_sla_pool.py).
    config = make_config(tenants=tenants, sensor={"concurrency": 1})
    runtime = make_runtime(sim, clock, sqlite_url(tmp_path), config)
    world = sim.tenant("acme")
    for i in range(250):
        world.add_run(name=f"Courier Group {i}", started_ago=timedelta(minutes=10))
    late = world.add_run(name="Courier Group Late", started_ago=timedelta(hours=3))
    with runtime.client("acme") as client:  # the polling asset's view of every active run
        poll_workflow_runs(client, runtime.store, tenant="acme", now=clock.now())
    sim.request_log("acme").reset()
    calls = iter(range(1000))  # each look at the clock is one second later
    result = run_sla_tick(
        runtime, now=clock.now(), budget_s=1.5, deliver=False, monotonic=lambda: float(next(calls))
    )
    [acme] = result.tenants
    assert acme.requests == 2  # two pages of 100 running runs, then the budget was spent
    assert sim.request_log("acme").total == 2
    assert acme.active == 251  # the runs not listed are evaluated as last stored
    assert acme.cut_short is not None
    assert "time budget spent while listing" in acme.cut_short
    assert [s.workflow_id for s in result.stop_requests] == [late.id]
    assert result.resume_tenant == "acme-sb"
    assert "acme: time budget spent while listing" in result.summary()
    clock.advance(timedelta(minutes=1))
    second = run_sla_tick(
        runtime, now=clock.now(), budget_s=30, deliver=False, resume_tenant=result.resume_tenant
    )
    assert [t.tenant for t in second.tenants] == ["acme-sb", "acme"]
    assert all(t.cut_short is None for t in second.tenants)
    assert second.stop_requests == []


def test_resolved_alert_names_our_stop_and_the_tick_lists_the_runs(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """The sensor's own stop shows in RESOLVED ('stopped by amperity-ops'); logs name runs."""
    world = quiet_sim.tenant(TENANT)
    run = world.add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    first = _tick(runtime)
    assert any(f"BREACHED Courier Group A {run.id} 3h > 2h (policy:courier-groups) -> "
               "stop requested" in line for line in first.log_lines())
    assert "if auto-stop is enabled" not in runtime.store.outbox_items()[0].message.text
    assert dict(runtime.store.outbox_items()[0].message.facts)["Action"] == "stop requested"
    world.finish_run(run.id, "stopped")
    clock.advance(timedelta(minutes=1))
    second = _tick(runtime, first)
    [resolved] = [i.message for i in runtime.store.outbox_items()
                  if i.message.level.value == "resolved"]
    assert resolved.title == (
        "RESOLVED: Courier Group A stopped by amperity-ops "
        "(sensor, SLA policy courier-groups, 1h over) after 3h 00m")
    assert f"{TENANT}: resolved: Courier Group A {run.id} (stopped by amperity-ops" in "\n".join(
        second.log_lines())
