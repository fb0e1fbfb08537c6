"""Incremental polling over the simulator: new runs and active ones, never the whole history."""

from __future__ import annotations

from datetime import timedelta

from amperity_ops.services.poll import poll_ingest_jobs, poll_workflow_runs
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops_tests.services.helpers import TENANT, remember_ghost_run

RUNS_PATH = "/api/workflow/runs"


def _poll(runtime: OpsRuntime):
    with runtime.client(TENANT) as client:
        return poll_workflow_runs(client, runtime.store, tenant=TENANT, now=runtime.clock())


def _listings(sim: Simulator) -> int:
    return sim.request_log(TENANT).count(RUNS_PATH, method="GET")


def _by_id(sim: Simulator) -> int:
    log = sim.request_log(TENANT)
    return log.count(RUNS_PATH + "/", method="GET", prefix=True)


def test_second_poll_reads_only_new_and_active_runs(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """With 10,000 runs of history a steady-state poll is one listing page, not a re-read."""
    world = quiet_sim.tenant(TENANT)
    world.add_history(10_000, active=5, days=90)
    first = _poll(runtime)
    assert first.listed < 500  # one day back, not 90 days
    assert runtime.store.count_runs(TENANT) == first.listed
    quiet_sim.request_log(TENANT).reset()

    clock.advance(timedelta(minutes=5))
    new = world.add_run(name="Courier Group Fresh", started_ago=timedelta(minutes=1))
    second = _poll(runtime)
    assert _listings(quiet_sim) == 1
    assert _by_id(quiet_sim) == 0
    assert new.id in {r.id for r in second.active}
    assert len(second.active) == 6


def test_ended_runs_are_updated_and_stragglers_read_by_id(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """An active run that ended is updated; one started days ago is re-read by id, alone."""
    world = quiet_sim.tenant(TENANT)
    recent = world.add_run(name="Recent", started_ago=timedelta(minutes=30))
    old = world.add_run(name="Old", started_ago=timedelta(hours=20))
    _poll(runtime)
    assert {r.id for r in runtime.store.active_runs(TENANT)} == {recent.id, old.id}

    clock.advance(timedelta(hours=8))  # `old` now started 28h ago: far before the watermark
    world.finish_run(recent.id, "failed")
    world.finish_run(old.id, "succeeded")
    quiet_sim.request_log(TENANT).reset()
    report = _poll(runtime)
    assert {r.id for r in report.ended} == {recent.id, old.id}
    assert report.reread == 1
    assert _by_id(quiet_sim) == 1
    assert _listings(quiet_sim) == 1
    assert runtime.store.active_runs(TENANT) == []
    assert runtime.store.get_run(TENANT, recent.id).state.raw == "failed"  # type: ignore[union-attr]


def test_vanished_active_run_is_reported(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """A 404 for an active run is reported, marked vanished, and not re-read by later polls."""
    ghost = remember_ghost_run(runtime, age=timedelta(days=2))
    report = _poll(runtime)
    assert report.vanished == [ghost.id]
    assert runtime.store.vanished_run_ids(TENANT) == {ghost.id}
    assert runtime.store.active_runs(TENANT) == []
    clock.advance(timedelta(minutes=5))
    quiet_sim.request_log(TENANT).reset()
    again = _poll(runtime)
    assert again.vanished == []
    assert _by_id(quiet_sim) == 0


def test_ingest_poll_stores_jobs_with_feeds(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """Ingest jobs of recent runs are read in one window and stored with their feeds."""
    world = quiet_sim.tenant(TENANT)
    run = world.add_run(
        name="Courier Group Orders",
        state="succeeded",
        started_ago=timedelta(hours=1),
        ended_ago=timedelta(minutes=10),
        ingest_tables=["orders", "customers"],
    )
    clock.advance(timedelta(minutes=1))
    with runtime.client(TENANT) as client:
        report = poll_ingest_jobs(client, runtime.store, tenant=TENANT, now=clock.now())
    assert report.windows == 1
    assert any(job.workflow_id == run.id for job in report.jobs)
    stored = runtime.store.ingest_jobs_since(TENANT, clock.now() - timedelta(days=1))
    assert {t.table_name for j in stored for t in j.tables} >= {"orders", "customers"}


def test_many_stragglers_are_reread_by_one_running_listing(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """Hundreds of long-running runs cost a few running-listing pages, not a read each."""
    world = quiet_sim.tenant(TENANT)
    old = [
        world.add_run(name=f"Long {i}", started_ago=timedelta(hours=20)) for i in range(150)
    ]
    paused = world.add_run(name="Paused", state="paused", started_ago=timedelta(hours=20))
    _poll(runtime)
    clock.advance(timedelta(hours=8))  # all of them now started long before the watermark
    world.finish_run(old[0].id, "succeeded")
    quiet_sim.request_log(TENANT).reset()
    report = _poll(runtime)
    assert report.running_pages == 2  # 149 running runs, 100 per page
    assert report.reread == 2  # the ended one and the paused one, by id
    assert _by_id(quiet_sim) == 2
    assert _listings(quiet_sim) == 3  # the watermark listing + 2 running pages
    assert {r.id for r in report.ended} == {old[0].id}
    assert len(runtime.store.active_runs(TENANT)) == 150
    assert runtime.store.get_run(TENANT, paused.id).state.raw == "paused"  # type: ignore[union-attr]
