"""The /_sim/ control endpoints and the per-tenant request log."""

from __future__ import annotations

import httpx

from amperity_ops.simulator import IN_PROCESS_BASE_URL, ManualClock, Simulator
from amperity_ops_tests.simulator.helpers import HEADERS_2024


def _control(sim: Simulator) -> httpx.Client:
    root = IN_PROCESS_BASE_URL.removesuffix("/api")
    return httpx.Client(base_url=root, transport=sim.transport())


def test_request_log_counts_answered_requests_per_path(sim: Simulator) -> None:
    """The request log counts requests per path and status, in python and over /_sim/."""
    run = sim.tenant("acme").add_run(state="running")
    with sim.http_client("acme") as client:
        client.get("/workflow/runs")
        client.get("/workflow/runs")
        client.get(f"/workflow/runs/{run.id}")
    log = sim.request_log("acme")
    assert log.count("/api/workflow/runs", method="GET") == 2
    assert log.count("/api/workflow/runs", prefix=True) == 3
    assert log.total == 3
    with _control(sim) as control:
        body = control.get("/_sim/tenants/acme/requests").json()
        assert body["by_path"]["GET /api/workflow/runs"] == 2
        assert body["by_route"]["GET /workflow/runs/{workflow_id}"] == 1
        control.delete("/_sim/tenants/acme/requests")
    assert log.total == 0


def test_control_endpoints_need_no_amperity_auth(sim: Simulator) -> None:
    """/_sim/ answers without bearer, tenant or version headers and is not logged as API use."""
    with _control(sim) as control:
        assert control.get("/_sim/health").json()["tenants"] == ["acme"]
    assert sim.request_log("acme").total == 0


def test_faults_over_http(sim: Simulator) -> None:
    """POST /_sim/tenants/acme/faults sets faults; GET shows what is left; DELETE heals."""
    with _control(sim) as control, sim.http_client("acme") as client:
        set_body = control.post("/_sim/tenants/acme/faults", json={"server_errors": 2}).json()
        assert set_body["server_errors"] == 2
        assert client.get("/segments").status_code == 500
        assert control.get("/_sim/tenants/acme/faults").json()["server_errors"] == 1
        control.delete("/_sim/tenants/acme/faults")
        assert client.get("/segments").status_code == 200
        bad = control.post("/_sim/tenants/acme/faults", json={"colour": "red"})
        missing = control.get("/_sim/tenants/nope/faults")
    assert bad.status_code == 400
    assert "colour" in bad.json()["message"]
    assert missing.status_code == 404


def test_add_run_and_set_state_over_http(sim: Simulator) -> None:
    """POST /_sim/.../runs places a run; POST .../state changes it."""
    with _control(sim) as control:
        created = control.post("/_sim/tenants/acme/runs", json={
            "name": "Nightly", "state": "running", "started_ago_seconds": 7200,
            "warn_after_ms": 3_600_000})
        assert created.status_code == 201
        run_id = created.json()["id"]
        changed = control.post(f"/_sim/tenants/acme/runs/{run_id}/state",
                               json={"state": "failed", "error": "platform"})
        bad = control.post("/_sim/tenants/acme/runs", json={"started_ago": 3})
    assert changed.json()["state"] == "failed"
    assert changed.json()["error"]["attribution"] == "platform"
    assert sim.tenant("acme").state_of(run_id) == "failed"
    assert bad.status_code == 400


def test_clock_and_tokens_over_http(sim: Simulator, clock: ManualClock) -> None:
    """/_sim/clock/advance moves a ManualClock; /_sim/.../tokens mints a usable token."""
    with _control(sim) as control:
        token = control.post("/_sim/tenants/acme/tokens", json={"expires_in": 60}).json()
        control.post("/_sim/clock/advance", json={"seconds": 30})
        assert clock.now().isoformat() == "2026-11-01T02:00:30+00:00"
        with sim.http_client("acme", token=token["access_token"]) as client:
            assert client.get("/segments").status_code == 200
            control.post("/_sim/clock/advance", json={"seconds": 31})
            assert client.get("/segments").status_code == 401


def test_control_over_real_socket(sim: Simulator, sim_server: str) -> None:
    """Faults set over the socket's /_sim/ apply to the API on the same socket."""
    root = sim_server.removesuffix("/api")
    httpx.post(f"{root}/_sim/tenants/acme/faults", json={"rate_limit_storm": 1})
    assert httpx.get(f"{sim_server}/segments", headers=HEADERS_2024).status_code == 429
    assert httpx.get(f"{sim_server}/segments", headers=HEADERS_2024).status_code == 200
