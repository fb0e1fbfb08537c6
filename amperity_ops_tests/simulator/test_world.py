"""The living world: lifecycle, stop, filters, pagination, ingest jobs, determinism."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from amperity_ops.simulator import (
    ManualClock,
    Simulator,
    StopRefusedError,
    SystemClock,
    TenantSpec,
)
from amperity_ops_tests.simulator.helpers import unlimited


def _all_pages(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    query = dict(params)
    while True:
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["data"])
        token = body.get("next_token")
        if not token:
            return items
        assert token not in seen, "a page token came back twice"
        seen.add(token)
        query = {**params, "next_token": token}


def test_add_run_places_a_running_run(sim: Simulator, clock: ManualClock) -> None:
    """add_run(state=running, started_ago=3h) shows a run created 3 h ago, still running."""
    run = sim.tenant("acme").add_run(name="Daily", type="courier.group/run", state="running",
                                     started_ago=timedelta(hours=3), warn_after_ms=3_600_000)
    body = sim.tenant("acme").run_json(run.id)
    assert body["state"] == "running"
    assert body["created_at"] == "2026-10-31T23:00:00.000Z"
    assert body["warn_after_ms"] == 3_600_000
    assert "ended_at" not in body
    clock.advance(timedelta(days=2))
    assert sim.tenant("acme").state_of(run.id) == "running"


def test_add_run_finishes_after_finishes_in(sim: Simulator, clock: ManualClock) -> None:
    """A run with finishes_in reaches final_state (and ended_at) once that time passes."""
    world = sim.tenant("acme")
    run = world.add_run(state="running", finishes_in=timedelta(minutes=10), final_state="failed",
                        error="platform")
    clock.advance(timedelta(minutes=9))
    assert world.state_of(run.id) == "running"
    clock.advance(timedelta(minutes=1))
    body = world.run_json(run.id)
    assert body["state"] == "failed"
    assert body["ended_at"] == "2026-11-01T02:10:00.000Z"
    assert body["error"]["attribution"] == "platform"


def test_terminal_add_run_has_ended_at(sim: Simulator) -> None:
    """A run added as succeeded ended_ago ago carries both timestamps and no error."""
    run = sim.tenant("acme").add_run(state="succeeded", started_ago=3600, ended_ago=600)
    body = sim.tenant("acme").run_json(run.id)
    assert body["state"] == "succeeded"
    assert body["ended_at"] == "2026-11-01T01:50:00.000Z"
    assert "error" not in body


def test_unknown_states_are_served_verbatim(sim: Simulator) -> None:
    """A state Amperity has not documented is served as given and counts as active."""
    world = sim.tenant("acme")
    run = world.add_run(state="rebalancing")
    with sim.http_client("acme") as client:
        data = client.get("/workflow/runs", params={"state": "rebalancing"}).json()["data"]
    assert [item["id"] for item in data] == [run.id]
    assert world.active_count == 1


def test_stop_moves_running_to_stopping_then_stopped(sim: Simulator, clock: ManualClock) -> None:
    """POST stop answers 200 stopping; after stop_delay the run is stopped with ended_at."""
    run = sim.tenant("acme").add_run(state="running", started_ago=timedelta(hours=1))
    with sim.http_client("acme") as client:
        response = client.post(f"/workflow/runs/{run.id}/stop")
        assert response.status_code == 200
        assert response.json()["state"] == "stopping"
        clock.advance(timedelta(seconds=29))
        assert client.get(f"/workflow/runs/{run.id}").json()["state"] == "stopping"
        clock.advance(timedelta(seconds=1))
        body = client.get(f"/workflow/runs/{run.id}").json()
    assert body["state"] == "stopped"
    assert body["ended_at"] == "2026-11-01T02:00:30.000Z"


def test_stop_of_finished_run_is_refused_with_400(sim: Simulator) -> None:
    """Stopping a finished run answers 400 (the status the spec documents) naming the state."""
    run = sim.tenant("acme").add_run(state="succeeded", started_ago=600)
    with sim.http_client("acme") as client:
        response = client.post(f"/workflow/runs/{run.id}/stop")
    assert response.status_code == 400
    assert "already succeeded" in response.json()["message"]
    with pytest.raises(StopRefusedError):
        sim.tenant("acme").stop_run(run.id)


def test_stop_twice_is_harmless(sim: Simulator, clock: ManualClock) -> None:
    """A second stop while stopping answers 200 and does not push the stop back."""
    run = sim.tenant("acme").add_run(state="running")
    with sim.http_client("acme") as client:
        client.post(f"/workflow/runs/{run.id}/stop")
        clock.advance(20)
        second = client.post(f"/workflow/runs/{run.id}/stop")
        clock.advance(10)
        final = client.get(f"/workflow/runs/{run.id}").json()["state"]
    assert second.status_code == 200
    assert second.json()["state"] == "stopping"
    assert final == "stopped"


def test_stop_unknown_run_is_404(sim: Simulator) -> None:
    """Stopping or reading a run that does not exist answers 404."""
    with sim.http_client("acme") as client:
        assert client.post("/workflow/runs/wf-20260101-00000-nope00/stop").status_code == 404
        assert client.get("/workflow/runs/wf-20260101-00000-nope00").status_code == 404


def test_start_creates_a_running_run(sim: Simulator) -> None:
    """POST /workflow/runs with a known config_id answers 201 with a running workflow."""
    with sim.http_client("acme") as client:
        response = client.post("/workflow/runs", json={"config_id": "cg-2Kc8nRw1Q",
                                                       "run_mode": "full"})
        assert response.status_code == 201
        body = response.json()
        assert body["state"] == "running"
        assert body["name"] == "Daily Ecommerce Sources"
        listed = client.get("/workflow/runs", params={"state": "running"}).json()["data"]
    assert [item["id"] for item in listed] == [body["id"]]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({}, "config_id"),
        ({"config_id": "cg-unknown"}, "does not name"),
        ({"config_id": "cg-2Kc8nRw1Q", "colour": "red"}, "colour"),
        ({"config_id": "cg-2Kc8nRw1Q", "range_to": "2026-10-07T00:00:00Z"}, "range_from"),
        ({"config_id": "cg-2Kc8nRw1Q", "run_mode": "turbo"}, "run_mode"),
    ],
)
def test_start_rejects_bad_bodies(sim: Simulator, payload: dict[str, Any], fragment: str) -> None:
    """A bad start body answers 400 with a message naming the problem field."""
    with sim.http_client("acme") as client:
        response = client.post("/workflow/runs", json=payload)
    assert response.status_code == 400
    assert fragment in response.json()["message"]


def test_verbose_view_adds_tasks(sim: Simulator) -> None:
    """view=verbose adds task_instances; overview has none; a bad view is 400."""
    run = sim.tenant("acme").add_run(state="failed", started_ago=3600, type="campaign.send")
    with sim.http_client("acme") as client:
        verbose = client.get(f"/workflow/runs/{run.id}", params={"view": "verbose"}).json()
        overview = client.get(f"/workflow/runs/{run.id}").json()
        bad = client.get(f"/workflow/runs/{run.id}", params={"view": "everything"})
    assert "task_instances" not in overview
    tasks = verbose["task_instances"]
    assert tasks
    assert all(task["id"].startswith("wft-") for task in tasks)
    assert tasks[-1]["state"] == "failed"
    assert bad.status_code == 400


def test_filters_by_state_type_and_dates(sim: Simulator) -> None:
    """state, type, created_* and ended_* filters select exactly the matching runs."""
    sim = unlimited(sim)
    world = sim.tenant("acme")
    old = world.add_run(state="succeeded", started_ago=timedelta(days=40),
                        ended_ago=timedelta(days=39), type="campaign.send")
    recent = world.add_run(state="failed", started_ago=timedelta(hours=5),
                           ended_ago=timedelta(hours=4))
    running = world.add_run(state="running", started_ago=timedelta(hours=1),
                            type="orchestration.group/run")
    with sim.http_client("acme") as client:
        def ids(**params: Any) -> list[str]:
            return [item["id"] for item in _all_pages(client, "/workflow/runs", **params)]

        assert ids() == [running.id, recent.id, old.id]
        assert ids(state="failed") == [recent.id]
        assert ids(state="RUNNING") == [running.id]
        assert ids(type="campaign.send") == [old.id]
        # Partial dates: "2026-09" as an upper bound means "to the end of September".
        assert ids(created_from="2026-09", created_to="2026-09") == [old.id]
        assert ids(created_from="2026-10-31T21:00:00Z") == [running.id, recent.id]
        assert ids(ended_from="2026-10-31T12") == [recent.id]
        # The old run ended 2026-09-23T02:00Z: "2026-09-22" ends before it, "2026-09" after.
        assert ids(ended_to="2026-09-22") == []
        assert ids(ended_to="2026-09") == [old.id]
        assert ids(ended_to="2026-10-30") == [old.id]


def test_bad_filter_values_are_400_naming_the_field(sim: Simulator) -> None:
    """Malformed dates, limits and booleans answer 400 naming the parameter."""
    with sim.http_client("acme") as client:
        for params, name in [({"created_from": "yesterday"}, "created_from"),
                             ({"limit": "0"}, "limit"), ({"limit": "abc"}, "limit"),
                             ({"limit": "101"}, "limit"), ({"with_total": "maybe"}, "with_total"),
                             ({"next_token": ""}, "next_token"),
                             ({"next_token": "garbage!"}, "next_token")]:
            response = client.get("/workflow/runs", params=params)
            assert response.status_code == 400, params
            assert name in response.json()["message"]


def test_pagination_round_trip_covers_every_run_once(sim: Simulator) -> None:
    """Following next_token visits every run exactly once, newest first; tokens never repeat."""
    sim = unlimited(sim)
    world = sim.tenant("acme")
    world.add_history(237)
    with sim.http_client("acme") as client:
        items = _all_pages(client, "/workflow/runs", limit=10)
        first = client.get("/workflow/runs", params={"limit": 10, "with_total": "true"}).json()
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)) == 237
    created = [item["created_at"] for item in items]
    assert created == sorted(created, reverse=True)
    assert first["total"] == 237
    assert len(first["data"]) == 10


def test_default_limit_is_25(sim: Simulator) -> None:
    """Without limit a page holds 25 runs and offers a next_token."""
    sim.tenant("acme").add_history(30)
    with sim.http_client("acme") as client:
        body = client.get("/workflow/runs").json()
    assert len(body["data"]) == 25
    assert body["next_token"]


def test_token_from_other_filters_is_refused(sim: Simulator) -> None:
    """A next_token replayed with different filters answers 400 instead of a wrong page."""
    sim.tenant("acme").add_history(30)
    with sim.http_client("acme") as client:
        token = client.get("/workflow/runs", params={"limit": 5}).json()["next_token"]
        response = client.get("/workflow/runs", params={"next_token": token, "state": "failed"})
    assert response.status_code == 400


def test_stop_is_shown_in_audit_events(sim: Simulator) -> None:
    """A stop through the API appears as a :amperity.workflow/stopped audit event."""
    run = sim.tenant("acme").add_run(state="running")
    with sim.http_client("acme") as client:
        client.post(f"/workflow/runs/{run.id}/stop")
        events = client.get("/audit-events").json()["data"]
    assert events[0]["event_type"] == ":amperity.workflow/stopped"
    assert events[0]["object_id"] == run.id


def test_ingest_jobs_need_a_window_of_at_most_seven_days(sim: Simulator) -> None:
    """GET /ingest/jobs requires created_from/created_to and a window of at most 7 days."""
    with sim.http_client("acme") as client:
        missing = client.get("/ingest/jobs", params={"created_from": "2026-10-01"})
        too_long = client.get("/ingest/jobs", params={"created_from": "2026-10-01",
                                                      "created_to": "2026-10-08T00:00:01Z"})
        backwards = client.get("/ingest/jobs", params={"created_from": "2026-10-05",
                                                       "created_to": "2026-10-01"})
        ok = client.get("/ingest/jobs", params={"created_from": "2026-10-01T00:00:00Z",
                                                "created_to": "2026-10-08T00:00:00Z"})
    assert missing.status_code == 400
    assert "created_to" in missing.json()["message"]
    assert too_long.status_code == 400
    assert "7 days" in too_long.json()["message"]
    assert backwards.status_code == 400
    assert ok.status_code == 200


def test_ingest_jobs_carry_feeds_and_files(sim: Simulator) -> None:
    """A courier run's ingest job lists feeds with read/error/rejected counts and files."""
    world = sim.tenant("acme")
    run = world.add_run(state="succeeded", started_ago=timedelta(hours=2), ended_ago=3600,
                        ingest_tables=("Orders", "Customers"))
    with sim.http_client("acme") as client:
        jobs = client.get("/ingest/jobs", params={"created_from": "2026-10-31",
                                                  "created_to": "2026-11-02"}).json()["data"]
        one = client.get(f"/ingest/jobs/{jobs[0]['id']}").json()
        missing = client.get("/ingest/jobs/isj-nope")
    assert [job["workflow_id"] for job in jobs] == [run.id]
    assert one == jobs[0]
    assert [feed["table_name"] for feed in one["tables"]] == ["Orders", "Customers"]
    for feed in one["tables"]:
        assert feed["read"] == sum(file["read"] for file in feed["files"])
        assert feed["errors"] == sum(file["errors"] for file in feed["files"])
        assert feed["rejected"] >= 0
    assert missing.status_code == 404


def test_living_world_starts_runs_on_schedule(living_sim: Simulator, clock: ManualClock) -> None:
    """With schedules on, the hourly courier group starts a new run every hour."""
    world = living_sim.tenant("acme")
    before = len(world.runs(type="courier.group/run"))
    clock.advance(timedelta(hours=3))
    after = world.runs(type="courier.group/run")
    names = [run.name for run in after[: len(after) - before]]
    assert names.count("Hourly POS Transactions") == 3


def test_living_world_shows_every_kind_of_outcome(living_sim: Simulator) -> None:
    """Three days of history hold successes, customer and platform failures and long runs."""
    world = living_sim.tenant("acme")
    runs = world.runs()
    now = world.now()
    states = {run.state_at(now) for run in runs}
    assert {"succeeded", "failed"} <= states
    attributions = {run.error["attribution"] for run in runs if run.error}
    assert attributions == {"customer", "platform"}
    long_runs = [run for run in runs if run.warn_after_ms and run.end is not None
                 and (run.end - run.created) * 1000 > run.warn_after_ms]
    assert long_runs, "no run went past its warn_after_ms"


def test_world_is_deterministic_whatever_the_reading_steps(clock: ManualClock) -> None:
    """Reading the world every minute or once gives the same runs and states (same seed)."""
    start = clock.now()

    def build(clock: ManualClock) -> Simulator:
        return Simulator([TenantSpec("acme", seed=3, history_days=1)], clock=clock,
                         rate_limit_rps=None)

    stepwise_clock = ManualClock(start)
    stepwise = build(stepwise_clock)
    for _ in range(6 * 60):
        stepwise_clock.advance(60)
        stepwise.tenant("acme").advance()
    jump_clock = ManualClock(start)
    jump = build(jump_clock)
    jump_clock.advance(6 * 3600)

    def snapshot(sim: Simulator) -> list[tuple[str, str]]:
        world = sim.tenant("acme")
        now = world.now()
        return [(run.id, run.state_at(now)) for run in world.runs()]

    assert snapshot(stepwise) == snapshot(jump)
    assert len(snapshot(jump)) > 50


def test_scale_listing_serves_active_runs_among_a_large_history(clock: ManualClock) -> None:
    """100,000 runs of history and 1,000 active ones: running runs page out correctly.

    How fast is measured by bench/simulator_throughput.py, not asserted here.
    """
    sim = Simulator([TenantSpec("acme", static_tokens=("t",), schedules=False,
                                history_runs=100_000, active_runs=1_000)],
                    clock=clock, rate_limit_rps=None)
    with sim.http_client("acme") as client:
        response = client.get("/workflow/runs", params={"state": "running", "limit": 100})
        total = client.get("/workflow/runs", params={"state": "running", "with_total": "true"})
    assert response.status_code == 200
    assert len(response.json()["data"]) == 100
    assert {run["state"] for run in response.json()["data"]} == {"running"}
    assert total.json()["total"] == 1_000


def test_profiles_filter_by_attribute(sim: Simulator) -> None:
    """filter[<attr>]=<value> keeps only matching profiles; an unknown attribute is 400."""
    with sim.http_client("acme", api_version="2025-07-31") as client:
        index_id = client.get("/indexes").json()["data"][0]["id"]
        daniels = _all_pages(client, f"/indexes/{index_id}/profiles",
                             **{"filter[first_name]": "Daniel", "limit": 50})
        everyone = client.get(f"/indexes/{index_id}/profiles",
                              params={"with_total": "true"}).json()["total"]
        one = client.get(f"/indexes/{index_id}/profiles/{daniels[0]['id']}").json()
        bad = client.get(f"/indexes/{index_id}/profiles", params={"filter[shoe_size]": "9"})
        no_index = client.get("/indexes/idx-nope/profiles")
    assert daniels
    assert all(p["attributes"]["first_name"] == "Daniel" for p in daniels)
    assert len(daniels) < everyone
    assert one == daniels[0]
    assert bad.status_code == 400
    assert "shoe_size" in bad.json()["message"]
    assert no_index.status_code == 404


def test_catalog_lists_paginate(sim: Simulator) -> None:
    """Segments, campaigns and drafts page through every item exactly once."""
    sim = unlimited(sim)
    with sim.http_client("acme", api_version="unstable") as client:
        for path in ("/segments", "/campaigns", "/campaign-drafts"):
            items = _all_pages(client, path, limit=3)
            total = client.get(path, params={"with_total": "true"}).json()["total"]
            assert len({item["id"] for item in items}) == len(items) == total


def test_campaigns_filter_by_destination_template(sim: Simulator) -> None:
    """destination_data_template_id narrows the campaigns list."""
    with sim.http_client("acme") as client:
        everything = client.get("/campaigns", params={"limit": 100}).json()["data"]
        template = sim.tenant("acme").campaign_template_or_none(everything[0]["id"])
        narrowed = client.get("/campaigns", params={"destination_data_template_id": template,
                                                    "limit": 100}).json()["data"]
    assert 0 < len(narrowed) < len(everything)


def test_manual_clock_refuses_to_go_back() -> None:
    """ManualClock never moves backwards and wants aware datetimes."""
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="negative"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="back"):
        clock.set(datetime(2025, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone"):
        ManualClock(datetime(2026, 1, 1))


def test_accelerated_clock_runs_speed_times_real_time() -> None:
    """SystemClock(speed=60): one real second is a simulated minute, so runs move on faster."""
    real = [1000.0]
    start = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    clock = SystemClock(speed=60, start=start, monotonic=lambda: real[0])
    sim = unlimited(Simulator([TenantSpec("acme", static_tokens=("test-token",),
                                          schedules=False)], clock=clock))
    run = sim.tenant("acme").add_run(state="running", finishes_in=timedelta(minutes=2))
    assert clock.now() == start
    real[0] += 1.5
    assert clock.now() == start + timedelta(seconds=90)
    with sim.http_client("acme") as client:
        assert client.get(f"/workflow/runs/{run.id}").json()["state"] == "running"
        real[0] += 1.0  # 150 simulated seconds in all: past finishes_in
        assert client.get(f"/workflow/runs/{run.id}").json()["state"] == "succeeded"
    with pytest.raises(ValueError, match="speed"):
        SystemClock(speed=0)


def test_cancel_types_stop_as_canceling_then_canceled(clock: ManualClock) -> None:
    """Workflow types in cancel_types read canceling, then canceled, when stopped."""
    sim = Simulator([TenantSpec("acme", static_tokens=("t",), schedules=False,
                                cancel_types=("campaign.send",))], clock=clock,
                    rate_limit_rps=None)
    world = sim.tenant("acme")
    campaign = world.add_run(state="running", type="campaign.send")
    courier = world.add_run(state="running", type="courier.group/run")
    world.stop_run(campaign.id)
    world.stop_run(courier.id)
    assert world.state_of(campaign.id) == "canceling"
    assert world.state_of(courier.id) == "stopping"
    clock.advance(30)
    assert world.state_of(campaign.id) == "canceled"
    assert world.state_of(courier.id) == "stopped"
    with pytest.raises(StopRefusedError):
        world.stop_run(campaign.id)


def test_scheduled_run_moves_through_its_states(living_sim: Simulator, clock: ManualClock) -> None:
    """A scheduled run goes running -> finalizing -> terminal as time passes, tasks in step."""
    world = living_sim.tenant("acme")
    clock.advance(60)
    [run] = world.runs(state="running", type="courier.group/run")
    seen: list[str] = []
    task_states: list[list[str]] = []
    for _ in range(24 * 60):
        state = world.state_of(run.id)
        if not seen or seen[-1] != state:
            seen.append(state)
            body = world.run_json(run.id, verbose=True)
            task_states.append([task["state"] for task in body["task_instances"]])
        if state in ("succeeded", "failed", "skipped"):
            break
        clock.advance(60)
    assert seen[0] == "running"
    assert seen[-1] in ("succeeded", "failed", "skipped")
    assert task_states[0][0] == "running"
    assert task_states[0][-1] == "scheduled"
    assert all(s != "scheduled" for s in task_states[-1])
    assert world.run_json(run.id)["ended_at"]


def test_add_ingest_job_attaches_to_a_run(sim: Simulator) -> None:
    """add_ingest_job attaches a job with the given tables, served by GET /ingest/jobs/{id}."""
    world = sim.tenant("acme")
    run = world.add_run(state="succeeded", started_ago=3600, type="orchestration.group/run")
    job = world.add_ingest_job(run_id=run.id, tables=("Loyalty",))
    standalone = world.add_ingest_job(tables=("Orders", "Returns"))
    with sim.http_client("acme") as client:
        body = client.get(f"/ingest/jobs/{job.id}").json()
        other = client.get(f"/ingest/jobs/{standalone.id}").json()
    assert body["workflow_id"] == run.id
    assert [feed["table_name"] for feed in body["tables"]] == ["Loyalty"]
    assert [feed["table_name"] for feed in other["tables"]] == ["Orders", "Returns"]
    assert other["workflow_id"] != run.id
