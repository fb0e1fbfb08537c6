"""Core protocol: auth, tenant header, api-version families, error bodies, transports."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest

from amperity_ops.simulator import IN_PROCESS_BASE_URL, ManualClock, Simulator
from amperity_ops.simulator._ratelimit import SlidingWindowLimiter


def test_list_runs_answers_with_data_envelope(sim: Simulator) -> None:
    """A healthy request lists runs in the documented {data: [...]} envelope."""
    run = sim.tenant("acme").add_run(name="Daily", state="running")
    with sim.http_client("acme") as client:
        response = client.get("/workflow/runs")
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["data"]] == [run.id]
    assert "next_token" not in response.json()


def test_bad_token_is_401_with_error_body(sim: Simulator) -> None:
    """An unknown bearer token is answered 401 with {status, message, request_id}."""
    with sim.http_client("acme", token="nope") as client:
        response = client.get("/workflow/runs")
    body = response.json()
    assert response.status_code == 401
    assert body["status"] == 401
    assert "not valid" in body["message"]
    assert len(body["request_id"]) == 36
    assert "nope" not in response.text


def test_missing_token_is_401(sim: Simulator) -> None:
    """A request without an Authorization header is answered 401."""
    with httpx.Client(base_url=IN_PROCESS_BASE_URL, transport=sim.transport()) as client:
        response = client.get("/segments", headers={"amperity-tenant": "acme",
                                                    "api-version": "2024-04-01"})
    assert response.status_code == 401


def test_missing_tenant_header_is_401(sim: Simulator) -> None:
    """A request without amperity-tenant is answered 401 naming the header."""
    with httpx.Client(base_url=IN_PROCESS_BASE_URL, transport=sim.transport()) as client:
        response = client.get("/segments", headers={"authorization": "Bearer test-token",
                                                    "api-version": "2024-04-01"})
    assert response.status_code == 401
    assert "amperity-tenant" in response.json()["message"]


def test_unknown_tenant_is_401(sim: Simulator) -> None:
    """A tenant the simulator does not host is answered 401."""
    with httpx.Client(base_url=IN_PROCESS_BASE_URL, transport=sim.transport()) as client:
        response = client.get("/segments", headers={"authorization": "Bearer test-token",
                                                    "amperity-tenant": "other",
                                                    "api-version": "2024-04-01"})
    assert response.status_code == 401


@pytest.mark.parametrize("version", [None, "2023-01-01", "2025-07-31"])
def test_control_plane_rejects_missing_or_foreign_version(
    sim: Simulator, version: str | None
) -> None:
    """Control-plane endpoints answer 401 without a control-plane api-version."""
    with sim.http_client("acme", api_version=version) as client:
        response = client.get("/workflow/runs")
    assert response.status_code == 401
    assert "api-version" in response.json()["message"]


@pytest.mark.parametrize("version", ["2024-04-01", "unstable"])
def test_control_plane_accepts_both_versions(sim: Simulator, version: str) -> None:
    """Control-plane endpoints serve 2024-04-01 and unstable."""
    with sim.http_client("acme", api_version=version) as client:
        assert client.get("/segments").status_code == 200


def test_campaign_drafts_only_under_unstable(sim: Simulator) -> None:
    """GET /campaign-drafts exists under unstable and is 401 (unsupported) under 2024-04-01."""
    with sim.http_client("acme", api_version="unstable") as client:
        assert client.get("/campaign-drafts").status_code == 200
    with sim.http_client("acme", api_version="2024-04-01") as client:
        response = client.get("/campaign-drafts")
    assert response.status_code == 401
    assert "unstable" in response.json()["message"]


def test_profile_api_wants_its_own_version(sim: Simulator) -> None:
    """Profile endpoints serve 2025-07-31 and refuse control-plane versions with 401."""
    with sim.http_client("acme", api_version="2025-07-31") as client:
        assert client.get("/indexes").status_code == 200
    with sim.http_client("acme", api_version="2024-04-01") as client:
        assert client.get("/indexes").status_code == 401


def test_minted_token_expires_with_simulated_time(sim: Simulator, clock: ManualClock) -> None:
    """A minted JWT-shaped token works until its exp, then answers 401 'expired'."""
    token = sim.mint_token("acme", expires_in=timedelta(minutes=10))
    assert token.count(".") == 2
    with sim.http_client("acme", token=token) as client:
        assert client.get("/segments").status_code == 200
        clock.advance(timedelta(minutes=11))
        response = client.get("/segments")
    assert response.status_code == 401
    assert "expired" in response.json()["message"]


def test_token_of_another_tenant_is_refused(clock: ManualClock) -> None:
    """A token minted for one tenant is not accepted by another."""
    from amperity_ops.simulator import TenantSpec

    sim = Simulator([TenantSpec("acme", schedules=False), TenantSpec("beta", schedules=False)],
                    clock=clock, rate_limit_rps=None)
    token = sim.mint_token("acme")
    with sim.http_client("beta", token=token) as client:
        assert client.get("/segments").status_code == 401
    with sim.http_client("acme", token=token) as client:
        assert client.get("/segments").status_code == 200


def test_oauth_issues_tokens_that_expire(sim: Simulator, clock: ManualClock) -> None:
    """POST /v0/oauth2/token issues a bearer token that expires after expires_in."""
    with httpx.Client(base_url=IN_PROCESS_BASE_URL, transport=sim.transport()) as client:
        response = client.post(
            "/v0/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": "test-client",
                  "client_secret": "test-secret"},
            headers={"X-Amperity-Tenant": "acme"},
        )
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3600
        headers = {"authorization": f"Bearer {body['access_token']}", "amperity-tenant": "acme",
                   "api-version": "2024-04-01"}
        assert client.get("/segments", headers=headers).status_code == 200
        clock.advance(3601)
        assert client.get("/segments", headers=headers).status_code == 401


def test_oauth_refuses_wrong_secret(sim: Simulator) -> None:
    """Wrong client credentials are answered 401 invalid_client, without echoing the secret."""
    with httpx.Client(base_url=IN_PROCESS_BASE_URL, transport=sim.transport()) as client:
        response = client.post(
            "/v0/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": "test-client",
                  "client_secret": "wrong-secret"},
            headers={"X-Amperity-Tenant": "acme"},
        )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "wrong-secret" not in response.text


def test_real_socket_serves_the_same_api(sim: Simulator, sim_server: str) -> None:
    """The sim_server fixture answers over a real socket with the same world."""
    run = sim.tenant("acme").add_run(state="running")
    headers = {"authorization": "Bearer test-token", "amperity-tenant": "acme",
               "api-version": "2024-04-01"}
    response = httpx.get(f"{sim_server}/workflow/runs/{run.id}", headers=headers)
    assert response.status_code == 200
    assert response.json()["state"] == "running"
    assert sim_server.startswith("http://127.0.0.1:")


def test_unknown_path_is_404_with_error_body(sim: Simulator) -> None:
    """Paths outside the API get a JSON 404 error body."""
    with sim.http_client("acme") as client:
        response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_transport_is_thread_safe(sim: Simulator) -> None:
    """One transport shared by 8 threads answers every request; the limiter admits exactly N."""
    # A frozen limiter clock: all 200 requests fall in one window, so exactly 10 are admitted.
    sim.limiter = SlidingWindowLimiter(10, clock=lambda: 500.0)
    sim.tenant("acme").add_history(50, active=5)
    transport = sim.transport()
    headers = {"authorization": "Bearer test-token", "amperity-tenant": "acme",
               "api-version": "2024-04-01"}

    def work(_: int) -> list[int]:
        with httpx.Client(base_url=IN_PROCESS_BASE_URL, transport=transport,
                          headers=headers) as client:
            return [client.get("/workflow/runs", params={"state": "running"}).status_code
                    for _ in range(25)]

    with ThreadPoolExecutor(8) as pool:
        statuses = [s for batch in pool.map(work, range(8)) for s in batch]
    assert len(statuses) == 200
    assert statuses.count(200) == 10
    assert statuses.count(429) == 190
    assert sim.request_log("acme").total == 200
    transport.close()


def test_deprecated_version_carries_headers_then_retires(clock: ManualClock) -> None:
    """A deprecated version answers with Deprecation/Sunset headers, and 400 after the sunset."""
    from datetime import UTC, datetime

    from amperity_ops.simulator import TenantSpec

    sunset = datetime(2026, 12, 1, tzinfo=UTC)
    sim = Simulator([TenantSpec("acme", static_tokens=("t",), schedules=False,
                                deprecated_versions={"2024-04-01": sunset})],
                    clock=clock, rate_limit_rps=None)
    with sim.http_client("acme") as client:
        before = client.get("/segments")
        clock.set(sunset)
        after = client.get("/segments")
    with sim.http_client("acme", api_version="unstable") as client:
        other = client.get("/segments")
    assert before.status_code == 200
    assert before.headers["deprecation"] == "true"
    assert before.headers["sunset"] == "Tue, 01 Dec 2026 00:00:00 GMT"
    assert after.status_code == 400
    assert "retired" in after.json()["message"]
    assert "deprecation" not in other.headers


def test_read_only_tokens_get_403_on_writes(clock: ManualClock) -> None:
    """A read-only token may list (200) but a stop or start with it is answered 403."""
    from amperity_ops.simulator import TenantSpec

    sim = Simulator([TenantSpec("acme", static_tokens=("rw",), read_only_tokens=("ro",),
                                schedules=False)], clock=clock, rate_limit_rps=None)
    run = sim.tenant("acme").add_run(state="running")
    minted = sim.mint_token("acme", read_only=True)
    for token in ("ro", minted):
        with sim.http_client("acme", token=token) as client:
            assert client.get("/workflow/runs").status_code == 200
            response = client.post(f"/workflow/runs/{run.id}/stop")
            assert response.status_code == 403
            assert response.json()["status"] == 403
    assert sim.tenant("acme").state_of(run.id) == "running"
    with sim.http_client("acme", token="rw") as client:
        assert client.post(f"/workflow/runs/{run.id}/stop").status_code == 200
