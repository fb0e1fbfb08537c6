"""Faults on demand: each one, in-process and (where the socket matters) over a real socket."""

from __future__ import annotations

import json

import httpx
import pytest

from amperity_ops.simulator import Faults, ManualClock, Simulator, TenantSpec
from amperity_ops_tests.simulator.helpers import HEADERS_2024, unlimited


def test_server_error_burst_hits_exactly_n_requests(sim: Simulator) -> None:
    """server_errors=2 answers the next two requests 500 with an error body, then heals."""
    sim.set_faults("acme", Faults(server_errors=2))
    with sim.http_client("acme") as client:
        statuses = [client.get("/segments").status_code for _ in range(3)]
        body = client.get("/segments").json()
    assert statuses == [500, 500, 200]
    assert "data" in body
    assert sim.faults("acme").server_errors == 0


def test_server_error_status_is_configurable(sim: Simulator) -> None:
    """server_error_status picks the 5xx (e.g. 503) and the body says the same status."""
    sim.set_faults("acme", Faults(server_errors=1, server_error_status=503))
    with sim.http_client("acme") as client:
        response = client.get("/segments")
    assert response.status_code == 503
    assert response.json()["status"] == 503


def test_server_error_rate_is_seeded(clock: ManualClock) -> None:
    """server_error_rate=0.5 fails about half the requests, the same ones for the same seed."""

    def pattern() -> list[int]:
        sim = Simulator([TenantSpec("acme", static_tokens=("t",), schedules=False, seed=5,
                                    faults=Faults(server_error_rate=0.5))],
                        clock=clock, rate_limit_rps=None)
        with sim.http_client("acme") as client:
            return [client.get("/segments").status_code for _ in range(40)]

    first = pattern()
    assert 8 < first.count(500) < 32
    assert pattern() == first


def test_rate_limit_storm_answers_429(sim: Simulator) -> None:
    """rate_limit_storm=3 answers 429 three times even with the limiter off."""
    unlimited(sim)
    sim.set_faults("acme", Faults(rate_limit_storm=3))
    with sim.http_client("acme") as client:
        statuses = [client.get("/segments").status_code for _ in range(4)]
    assert statuses == [429, 429, 429, 200]


def test_only_paths_limits_faults_to_a_prefix(sim: Simulator) -> None:
    """only_paths applies faults to matching paths and leaves others (and counts) alone."""
    sim.set_faults("acme", Faults(server_errors=1, only_paths=("/workflow/runs",)))
    with sim.http_client("acme") as client:
        assert client.get("/segments").status_code == 200
        assert client.get("/workflow/runs").status_code == 500
        assert client.get("/workflow/runs").status_code == 200


def test_slow_answers_trip_the_read_timeout_in_process(sim: Simulator) -> None:
    """slow_seconds beyond the client's read timeout raises httpx.ReadTimeout in-process."""
    sim.set_faults("acme", Faults(slow_seconds=0.3))
    with sim.http_client("acme", timeout=0.05) as client, pytest.raises(httpx.ReadTimeout):
        client.get("/segments")
    with sim.http_client("acme", timeout=5.0) as client:
        assert client.get("/segments").status_code == 200


def test_slow_answers_over_a_real_socket(sim: Simulator, sim_server: str) -> None:
    """Over a socket, a slow answer makes httpx time out like a slow Amperity would."""
    sim.set_faults("acme", Faults(slow_seconds=0.5))
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{sim_server}/segments", headers=HEADERS_2024, timeout=0.1)


def test_dropped_connection_in_process(sim: Simulator) -> None:
    """drop_connections=1 makes the transport raise RemoteProtocolError once."""
    sim.set_faults("acme", Faults(drop_connections=1))
    with sim.http_client("acme") as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/segments")
        assert client.get("/segments").status_code == 200
    assert sim.request_log("acme").count("/api/segments", status=0) == 1


def test_dropped_connection_over_a_real_socket(sim: Simulator, sim_server: str) -> None:
    """Over a socket the server closes the connection without any response."""
    sim.set_faults("acme", Faults(drop_connections=1))
    with httpx.Client(headers=HEADERS_2024) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(f"{sim_server}/segments")
        assert client.get(f"{sim_server}/segments").status_code == 200


def test_truncated_body_is_a_cut_200(sim: Simulator, sim_server: str) -> None:
    """truncated_bodies=1 answers 200 with half a JSON body, in-process and over a socket."""
    sim.set_faults("acme", Faults(truncated_bodies=2))
    with sim.http_client("acme") as client:
        response = client.get("/segments")
    socket_response = httpx.get(f"{sim_server}/segments", headers=HEADERS_2024)
    for cut in (response, socket_response):
        assert cut.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(cut.content)
    assert httpx.get(f"{sim_server}/segments", headers=HEADERS_2024).json()["data"]


def test_expired_tokens_fault_answers_401(sim: Simulator) -> None:
    """expired_tokens makes every token look expired (401) until the faults are cleared."""
    sim.set_faults("acme", Faults(expired_tokens=True))
    with sim.http_client("acme") as client:
        response = client.get("/segments")
        assert response.status_code == 401
        assert "expired" in response.json()["message"]
        sim.clear_faults("acme")
        assert client.get("/segments").status_code == 200


def test_repeat_page_token_hands_back_the_same_token(sim: Simulator) -> None:
    """repeat_page_token: page two returns the very token it was asked with."""
    sim.tenant("acme").add_history(20)
    with sim.http_client("acme") as client:
        first = client.get("/workflow/runs", params={"limit": 5}).json()["next_token"]
        sim.set_faults("acme", Faults(repeat_page_token=True))
        second = client.get("/workflow/runs", params={"limit": 5, "next_token": first}).json()
        sim.clear_faults("acme")
        healthy = client.get("/workflow/runs", params={"limit": 5, "next_token": first}).json()
    assert second["next_token"] == first
    assert healthy["next_token"] != first


def test_faults_at_start_up_come_from_the_spec(clock: ManualClock) -> None:
    """TenantSpec(faults=...) is in force from the first request."""
    sim = Simulator([TenantSpec("acme", static_tokens=("t",), schedules=False,
                                faults=Faults(server_errors=1))], clock=clock)
    with sim.http_client("acme") as client:
        assert client.get("/segments").status_code == 500


def test_bad_fault_values_are_refused() -> None:
    """Faults validates its fields and names the bad one."""
    with pytest.raises(ValueError, match="server_errors"):
        Faults(server_errors=-1)
    with pytest.raises(ValueError, match="5xx"):
        Faults(server_error_status=404)
    with pytest.raises(ValueError, match="colour"):
        Faults.from_json({"colour": "red"})


def test_expired_tokens_next_expires_n_answers_then_heals(sim: Simulator) -> None:
    """expired_tokens_next=1: one 401 'expired', and OAuth refreshes do not use up the count."""
    sim.set_faults("acme", Faults(expired_tokens_next=1))
    with httpx.Client(base_url="http://simulator.local/api", transport=sim.transport()) as raw:
        token = raw.post("/v0/oauth2/token", headers={"X-Amperity-Tenant": "acme"},
                         data={"grant_type": "client_credentials", "client_id": "test-client",
                               "client_secret": "test-secret"})
    assert token.status_code == 200
    with sim.http_client("acme") as client:
        first = client.get("/segments")
        second = client.get("/segments")
    assert first.status_code == 401
    assert "expired" in first.json()["message"]
    assert second.status_code == 200


def test_lost_answer_acts_then_hangs_up_in_process(sim: Simulator) -> None:
    """lose_answers=1: the stop takes effect, but the caller gets RemoteProtocolError."""
    run = sim.tenant("acme").add_run(state="running")
    sim.set_faults("acme", Faults(lose_answers=1))
    with sim.http_client("acme") as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(f"/workflow/runs/{run.id}/stop")
        assert client.get(f"/workflow/runs/{run.id}").json()["state"] == "stopping"
    assert sim.request_log("acme").count(f"/api/workflow/runs/{run.id}/stop", status=0) == 1
    assert sim.faults("acme").lose_answers == 0


def test_lost_answer_over_a_real_socket_after_a_start(sim: Simulator, sim_server: str) -> None:
    """Over a socket the server starts the run, then closes the connection unanswered."""
    from amperity_ops.simulator import DEFAULT_CATALOG

    sim.set_faults("acme", Faults(lose_answers=1, only_paths=("/workflow/runs",)))
    with httpx.Client(headers=HEADERS_2024) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(f"{sim_server}/workflow/runs",
                        json={"config_id": DEFAULT_CATALOG[0].config_id})
        listed = client.get(f"{sim_server}/workflow/runs").json()["data"]
    assert len(listed) == 1
    assert len(sim.tenant("acme").runs()) == 1


def test_retry_after_is_sent_on_storm_and_limiter_429s(clock: ManualClock) -> None:
    """retry_after=7 adds Retry-After: 7 to storm 429s and limiter 429s; none by default."""
    sim = Simulator([TenantSpec("acme", static_tokens=("test-token",), schedules=False)],
                    clock=clock, rate_limit_rps=10.0, rate_limit_clock=lambda: 100.0)
    sim.set_faults("acme", Faults(rate_limit_storm=1, retry_after=7))
    with sim.http_client("acme") as client:
        storm = client.get("/segments")
        # The storm's 429 was admitted by the limiter first: nine more fill the second.
        answers = [client.get("/segments").status_code for _ in range(9)]
        limited = client.get("/segments")
    assert storm.status_code == 429
    assert storm.headers["retry-after"] == "7"
    assert answers == [200] * 9
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    sim.set_rate_limit(None)
    sim.set_faults("acme", Faults(rate_limit_storm=1))
    with sim.http_client("acme") as client:
        assert "retry-after" not in client.get("/segments").headers


def test_retry_after_must_be_whole_seconds() -> None:
    """Retry-After is delta-seconds: a negative or fractional value is refused, naming it."""
    with pytest.raises(ValueError, match="retry_after"):
        Faults(retry_after=-1)
    with pytest.raises(ValueError, match="retry_after"):
        Faults.from_json({"retry_after": 1.5})
