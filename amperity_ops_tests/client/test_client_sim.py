"""AmperityClient against the simulated tenant, in-process (and, where it matters, a socket)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from amperity_ops.client import (
    AmperityClient,
    APIConnectionError,
    ApiDeprecationWarning,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    OutcomeUnknownError,
    PaginationError,
    PermissionDeniedError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    StateKind,
    TokenExpiredError,
)
from amperity_ops.client import _client as client_module
from amperity_ops.simulator import (
    DEFAULT_CATALOG,
    IN_PROCESS_BASE_URL,
    Faults,
    ManualClock,
    Simulator,
    TenantSpec,
)
from amperity_ops_tests.conftest import CLIENT_ID, CLIENT_SECRET, TENANT, TOKEN

RUNS = "/api/workflow/runs"


class Sleeps(list[float]):
    """Records the waits the client asks for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Recording(httpx.BaseTransport):
    """Passes requests to the simulator's transport unchanged and keeps what was sent."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return self.inner.handle_request(request)


@pytest.fixture
def api(sim: Simulator) -> Simulator:
    """The quiet tenant with its 429 limiter off (these tests are about other behaviour)."""
    sim.set_rate_limit(None)
    return sim


@pytest.fixture
def sleeps() -> Sleeps:
    """The client's waits, recorded instead of slept."""
    return Sleeps()


@pytest.fixture
def make_client(api: Simulator, sleeps: Sleeps) -> Callable[..., AmperityClient]:
    """Builds in-process clients on the simulator; keyword arguments override the defaults."""

    def build(**overrides: Any) -> AmperityClient:
        kwargs: dict[str, Any] = {
            "base_url": IN_PROCESS_BASE_URL,
            "access_token": TOKEN,
            "transport": api.transport(),
            "rate_limit_rps": 0,
            "clock": api.clock.now,
            "sleep": sleeps,
            "rng": lambda: 0.5,
        }
        kwargs.update(overrides)
        return AmperityClient(TENANT, **kwargs)

    return build


def add_runs(sim: Simulator, count: int, state: str = "running") -> list[str]:
    world = sim.tenant(TENANT)
    return [
        world.add_run(name=f"Run {i}", state=state, started_ago=timedelta(minutes=count - i)).id
        for i in range(count)
    ]


# ------------------------------------------------------------------------ happy paths


def test_lists_every_run_across_pages_lazily(api: Simulator, make_client: Callable) -> None:
    """Listing follows next_token page by page until it is absent, fetching only as needed."""
    ids = add_runs(api, 25)
    with make_client() as client:
        runs = client.list_workflow_runs(limit=10)
        first = next(runs)
        assert runs.pages_fetched == 1
        rest = list(runs)
    assert {first.id, *(r.id for r in rest)} == set(ids)
    assert runs.pages_fetched == 3
    assert api.request_log(TENANT).count(RUNS, method="GET") == 3


def test_total_is_available_on_request(api: Simulator, make_client: Callable) -> None:
    """with_total=True exposes the server's total without losing the first page's items."""
    add_runs(api, 12)
    with make_client() as client:
        runs = client.list_workflow_runs(limit=5, with_total=True)
        assert runs.total == 12
        assert len(list(runs)) == 12
        assert client.list_workflow_runs(limit=5).total is None


def test_max_items_stops_early(api: Simulator, make_client: Callable) -> None:
    """max_items caps the items yielded and the pages fetched."""
    add_runs(api, 30)
    with make_client() as client:
        runs = client.list_workflow_runs(limit=10, max_items=12)
        assert len(list(runs)) == 12
        assert runs.pages_fetched == 2


def test_filters_and_states_reach_the_server(api: Simulator, make_client: Callable) -> None:
    """state filters select runs; states come back normalised with raw text kept."""
    world = api.tenant(TENANT)
    world.add_run(state="running with failures")
    world.add_run(state="succeeded", started_ago=timedelta(hours=2), ended_ago=timedelta(hours=1))
    world.add_run(state="hibernating")
    with make_client() as client:
        kinds = {r.state.raw: r.state.kind for r in client.list_workflow_runs()}
        succeeded = list(client.list_workflow_runs(state=StateKind.SUCCEEDED))
    assert kinds["running with failures"] is StateKind.RUNNING_WITH_FAILURES
    assert kinds["hibernating"] is StateKind.UNKNOWN
    assert [r.state.kind for r in succeeded] == [StateKind.SUCCEEDED]


def test_get_and_stop_over_a_real_socket(sim: Simulator, sim_server: str) -> None:
    """Over real HTTP: get (verbose, with tasks), stop, and a 404 carrying a request id."""
    sim.set_rate_limit(None)
    run = sim.tenant(TENANT).add_run(state="running")
    with AmperityClient(TENANT, base_url=sim_server, access_token=TOKEN, rate_limit_rps=0) as c:
        got = c.get_workflow_run(run.id, verbose=True)
        assert got.state.is_stoppable
        assert got.tasks
        stopped = c.stop_workflow_run(run.id)
        assert stopped.state.kind is StateKind.STOPPING
        with pytest.raises(NotFoundError) as info:
            c.get_workflow_run("wf-20990101-00000-nothere")
    assert info.value.status == 404
    assert info.value.request_id
    assert info.value.request_id in str(info.value)


def test_every_endpoint_answers_typed_models(api: Simulator, make_client: Callable) -> None:
    """Each endpoint of the three documents returns its model (profile filters included)."""
    living = Simulator([TenantSpec(tenant_id=TENANT, static_tokens=(TOKEN,), seed=7)],
                       clock=api.clock, rate_limit_rps=None)
    with make_client(transport=living.transport()) as client:
        assert list(client.list_segments())
        assert list(client.list_campaigns())
        assert list(client.list_campaign_drafts())
        assert list(client.list_audit_events(max_items=3))
        index = next(client.list_indexes())
        assert client.get_index(index.id).name == index.name
        daniels = list(client.list_profiles(index.id, filters={"first_name": "Daniel"},
                                            max_items=5))
        assert daniels
        assert all(p.attributes["first_name"] == "Daniel" for p in daniels)
        assert client.get_profile(index.id, daniels[0].id).id == daniels[0].id
        jobs = list(client.list_ingest_jobs(created_from=api.clock.now() - timedelta(days=2)))
        assert jobs
        assert client.get_ingest_job(jobs[0].id).tables


def test_headers_carry_tenant_token_and_per_family_version(
    api: Simulator, make_client: Callable
) -> None:
    """Each request has the bearer token, amperity-tenant and its family's api-version."""
    recording = Recording(api.transport())
    with make_client(transport=recording) as client:
        list(client.list_segments())
        list(client.list_campaign_drafts())
        list(client.list_indexes())
    versions = {r.url.path: r.headers["api-version"] for r in recording.sent}
    assert versions == {"/api/segments": "2024-04-01", "/api/campaign-drafts": "unstable",
                        "/api/indexes": "2025-07-31"}
    for request in recording.sent:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["amperity-tenant"] == TENANT


def test_api_version_is_overridable(api: Simulator, make_client: Callable) -> None:
    """An overridden api-version is sent; one the server does not know is an auth/400 error."""
    with (
        make_client(api_versions={"control_plane": "1999-01-01"}) as client,
        pytest.raises((AuthenticationError, BadRequestError)),
    ):
        list(client.list_segments())
    assert api.request_log(TENANT).count("/api/segments") == 1


def test_ingest_jobs_span_is_split_into_7_day_windows(
    api: Simulator, make_client: Callable
) -> None:
    """A 20-day span becomes three requests of at most 7 days, and every job is yielded once."""
    world = api.tenant(TENANT)
    jobs = {world.add_ingest_job(started_ago=timedelta(days=d)).id for d in (1, 8, 15)}
    recording = Recording(api.transport())
    now = api.clock.now()
    with make_client(transport=recording) as client:
        got = [j.id for j in client.list_ingest_jobs(created_from=now - timedelta(days=20),
                                                     created_to=now)]
    assert sorted(got) == sorted(jobs)
    assert len(recording.sent) == 3
    for request in recording.sent:
        params = request.url.params
        span = httpx_time(params["created_to"]) - httpx_time(params["created_from"])
        assert span <= timedelta(days=7)


def httpx_time(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "bad",
    ["", " ", "wf 1", "wf-1\t", "\nwf-1", "wf-1/stop", "wf?x", "wf#x", "..", "wf-1..",
     "../segments", "wf%2F1"],
)
def test_bad_ids_raise_before_any_request(
    api: Simulator, make_client: Callable, bad: str
) -> None:
    """An unsafe id raises ValueError naming the parameter, and nothing is sent."""
    with make_client() as client:
        for call in (client.get_workflow_run, client.stop_workflow_run, client.get_ingest_job,
                     client.get_index):
            with pytest.raises(ValueError, match="_id"):
                call(bad)
        with pytest.raises(ValueError, match="profile_id"):
            client.get_profile("idx-1", bad)
        with pytest.raises(ValueError, match="index_id"):
            client.get_profile(bad, "cl-1")
        with pytest.raises(ValueError, match="index_id"):
            client.list_profiles(bad)
        with pytest.raises(ValueError, match="config_id"):
            client.start_workflow(bad)
    assert api.request_log(TENANT).total == 0
    assert api.unrouted_log.total == 0


def test_bad_limit_and_reversed_span_are_refused(make_client: Callable) -> None:
    """A non-positive limit and an empty ingest span raise ValueError naming the field."""
    with make_client() as client:
        with pytest.raises(ValueError, match="limit"):
            client.list_workflow_runs(limit=0)
        now = client._clock()
        with pytest.raises(ValueError, match="created_to"):
            client.list_ingest_jobs(created_from=now, created_to=now - timedelta(days=1))


# ------------------------------------------------------------------------ faults


@pytest.mark.parametrize(
    ("faults", "status"),
    [
        (Faults(server_errors=2), 500),
        (Faults(server_errors=2, server_error_status=503), 503),
        (Faults(rate_limit_storm=3), 429),
        (Faults(drop_connections=2), 0),
        (Faults(truncated_bodies=2), 200),
    ],
)
def test_reads_are_retried_through_each_fault(
    api: Simulator, make_client: Callable, sleeps: Sleeps, faults: Faults, status: int
) -> None:
    """5xx, 429 storms, dropped connections and cut bodies are retried until a good answer."""
    run_id = add_runs(api, 1)[0]
    api.set_faults(TENANT, faults)
    with make_client() as client:
        assert client.get_workflow_run(run_id).id == run_id
    faulty = faults.server_errors or faults.rate_limit_storm or faults.drop_connections or (
        faults.truncated_bodies)
    assert len(sleeps) == faulty
    assert api.request_log(TENANT).count(f"{RUNS}/{run_id}", status=status) >= faulty


def test_backoff_grows_with_full_jitter(api: Simulator, make_client: Callable,
                                        sleeps: Sleeps) -> None:
    """Waits between retries follow rng * min(max, initial * 2**n)."""
    api.set_faults(TENANT, Faults(server_errors=4))
    with make_client(retry_policy=RetryPolicy(initial_backoff=0.5, max_backoff=2.0)) as client:
        list(client.list_segments())
    assert sleeps == [0.25, 0.5, 1.0, 1.0]


def test_retry_after_on_a_simulated_429_is_honoured(
    api: Simulator, make_client: Callable, sleeps: Sleeps
) -> None:
    """The simulator's Retry-After: 3 on two 429s makes the client wait exactly 3 s twice."""
    api.set_faults(TENANT, Faults(rate_limit_storm=2, retry_after=3))
    with make_client() as client:
        assert list(client.list_segments())
    assert sleeps == [3.0, 3.0]
    assert api.request_log(TENANT).count("/api/segments", status=429) == 2


def test_retry_after_beyond_the_policy_gives_up_at_once(
    api: Simulator, make_client: Callable, sleeps: Sleeps
) -> None:
    """A Retry-After longer than max_retry_after raises RateLimitedError without waiting."""
    api.set_faults(TENANT, Faults(rate_limit_storm=5, retry_after=120))
    with (
        make_client(retry_policy=RetryPolicy(max_retry_after=60.0)) as client,
        pytest.raises(RateLimitedError) as info,
    ):
        list(client.list_segments())
    assert info.value.status == 429
    assert sleeps == []
    assert api.request_log(TENANT).count("/api/segments") == 1


class FakeTime:
    """A monotonic clock that moves only when the client sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_retries_stop_at_the_total_time_bound(api: Simulator, make_client: Callable) -> None:
    """With attempts to spare, no retry starts whose wait would cross max_total_seconds."""
    fake = FakeTime()
    api.set_faults(TENANT, Faults(server_error_rate=1.0))
    policy = RetryPolicy(max_attempts=100, max_total_seconds=10.0, initial_backoff=4.0,
                         max_backoff=4.0)
    with (
        make_client(retry_policy=policy, sleep=fake.sleep, monotonic=fake.monotonic,
                    rng=lambda: 1.0) as client,
        pytest.raises(ServerError),
    ):
        list(client.list_segments())
    assert fake.sleeps == [4.0, 4.0]  # a third wait would end at 12 s > 10 s
    assert api.request_log(TENANT).count("/api/segments") == 3


def test_retries_stop_at_the_attempt_bound_with_time_to_spare(
    api: Simulator, make_client: Callable
) -> None:
    """With time to spare, max_attempts caps the requests sent (429 storm that never ends)."""
    fake = FakeTime()
    api.set_faults(TENANT, Faults(rate_limit_storm=50))
    with (
        make_client(retry_policy=RetryPolicy(max_attempts=4, max_total_seconds=3600.0),
                    sleep=fake.sleep, monotonic=fake.monotonic) as client,
        pytest.raises(RateLimitedError),
    ):
        list(client.list_segments())
    assert len(fake.sleeps) == 3
    assert api.request_log(TENANT).count("/api/segments", status=429) == 4


def test_persistent_5xx_gives_up_after_the_attempt_bound(
    api: Simulator, make_client: Callable
) -> None:
    """A server that keeps failing raises ServerError (with request id) after max_attempts."""
    api.set_faults(TENANT, Faults(server_error_rate=1.0))
    with (
        make_client(retry_policy=RetryPolicy(max_attempts=3)) as client,
        pytest.raises(ServerError) as info,
    ):
        list(client.list_segments())
    assert info.value.status == 500
    assert info.value.request_id
    assert api.request_log(TENANT).count("/api/segments") == 3


def test_slow_answers_time_out_and_are_retried_then_reported(
    api: Simulator, make_client: Callable, sleeps: Sleeps
) -> None:
    """A read timeout is retried for GETs and finally raises APITimeoutError."""
    api.set_faults(TENANT, Faults(slow_seconds=0.2))
    # The simulator logs a request when it answers, so a timed-out one is counted as sent.
    wire = Recording(api.transport())
    with (
        make_client(timeout=0.02, transport=wire,
                    retry_policy=RetryPolicy(max_attempts=2)) as client,
        pytest.raises(APITimeoutError),
    ):
        list(client.list_segments())
    assert [r.url.path for r in wire.sent] == ["/api/segments"] * 2  # the first try, the retry
    assert len(sleeps) == 1  # one back-off wait, between them


def test_a_slow_answer_is_retried_and_the_retry_answers(
    api: Simulator, make_client: Callable, sleeps: Sleeps
) -> None:
    """A GET that timed out is sent again after a back-off, and the retry's answer is used."""
    api.set_faults(TENANT, Faults(slow_seconds=0.2))

    def heal_then_wait(seconds: float) -> None:
        api.set_faults(TENANT, Faults())  # the tenant is fast again by the time of the retry
        sleeps(seconds)

    wire = Recording(api.transport())
    with make_client(timeout=0.02, transport=wire, sleep=heal_then_wait,
                     retry_policy=RetryPolicy(max_attempts=2)) as client:
        segments = list(client.list_segments())
    assert segments
    assert {s.id for s in segments} == {s["id"] for s in api.tenant(TENANT).segments}
    assert [r.url.path for r in wire.sent] == ["/api/segments"] * 2
    assert api.request_log(TENANT).count("/api/segments") == 1  # only the retry was answered
    assert len(sleeps) == 1


def test_client_errors_are_never_retried(api: Simulator, make_client: Callable,
                                         sleeps: Sleeps) -> None:
    """404 and 400 (stopping a finished run) fail at once, one request each."""
    done = api.tenant(TENANT).add_run(state="succeeded", started_ago=timedelta(hours=1),
                                      ended_ago=timedelta(minutes=1))
    with make_client() as client:
        with pytest.raises(NotFoundError):
            client.get_workflow_run("wf-20990101-00000-nothere")
        with pytest.raises(BadRequestError):
            client.stop_workflow_run(done.id)
    assert sleeps == []
    log = api.request_log(TENANT)
    assert log.count(f"{RUNS}/{done.id}/stop") == 1
    assert log.count(f"{RUNS}/wf-20990101-00000-nothere") == 1
    assert log.count(f"{RUNS}/{done.id}") == 0  # a refused stop is not "verified" either


def test_repeated_page_token_raises_instead_of_looping(
    api: Simulator, make_client: Callable
) -> None:
    """A server that hands back the same next_token makes the listing fail clearly."""
    add_runs(api, 10)
    api.set_faults(TENANT, Faults(repeat_page_token=True))
    with make_client() as client, pytest.raises(PaginationError, match="second time"):
        list(client.list_workflow_runs(limit=3))
    assert api.request_log(TENANT).count(RUNS) <= 3


# ------------------------------------------------------------------------ auth


def test_wrong_static_token_is_401_without_retry(api: Simulator, make_client: Callable) -> None:
    """A rejected static token raises AuthenticationError after exactly one request."""
    with (
        make_client(access_token="not-a-valid-token") as client,
        pytest.raises(AuthenticationError) as info,
    ):
        list(client.list_segments())
    assert info.value.status == 401
    assert api.request_log(TENANT).count("/api/segments") == 1


def test_expired_static_jwt_fails_before_sending(api: Simulator, make_client: Callable) -> None:
    """A minted token past its exp raises 'token expired at ...' and sends nothing."""
    token = api.mint_token(TENANT, expires_in=timedelta(minutes=10))
    with make_client(access_token=token, token_warn_within=timedelta(0)) as client:
        assert list(client.list_segments()) is not None
        api.clock.advance(timedelta(minutes=11))
        with pytest.raises(TokenExpiredError, match="token expired at 2026-11-01T02:10:00"):
            list(client.list_segments())
    assert api.request_log(TENANT).count("/api/segments") == 1


def test_static_jwt_expiring_mid_listing_raises_token_expired(
    api: Simulator, make_client: Callable
) -> None:
    """A static token whose exp passes between pages raises TokenExpiredError, not a bare 401."""
    add_runs(api, 9)
    token = api.mint_token(TENANT, expires_in=timedelta(minutes=10))
    with make_client(access_token=token, token_warn_within=timedelta(0)) as client:
        runs = client.list_workflow_runs(limit=3)
        seen = [next(runs).id for _ in range(3)]
        api.clock.advance(timedelta(minutes=11))
        with pytest.raises(TokenExpiredError, match="token expired at 2026-11-01T02:10:00"):
            next(runs)
    assert len(seen) == 3
    log = api.request_log(TENANT)
    assert log.count(RUNS) == 1
    assert log.count(status=401) == 0


def test_static_jwt_expiring_soon_warns(api: Simulator, make_client: Callable) -> None:
    """A token expiring within the warning window warns once and still works."""
    token = api.mint_token(TENANT, expires_in=timedelta(days=2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with make_client(access_token=token) as client:
            list(client.list_segments())
            list(client.list_segments())
    assert sum("expires at" in str(w.message) for w in caught) == 1


def oauth_sim(clock: ManualClock, expires_in: int) -> Simulator:
    spec = TenantSpec(tenant_id=TENANT, static_tokens=(TOKEN,), client_id=CLIENT_ID,
                      client_secret=CLIENT_SECRET, seed=7, schedules=False,
                      oauth_expires_in=expires_in)
    return Simulator([spec], clock=clock, rate_limit_rps=None)


def test_oauth_token_expiring_mid_listing_is_refreshed(
    clock: ManualClock, make_client: Callable
) -> None:
    """OAuth tokens that expire while a listing is under way are refreshed before they lapse."""
    sim = oauth_sim(clock, expires_in=120)
    add_runs(sim, 12)
    with make_client(transport=sim.transport(), access_token=None, client_id=CLIENT_ID,
                     client_secret=CLIENT_SECRET, clock=clock.now) as client:
        seen = []
        for run in client.list_workflow_runs(limit=3):
            seen.append(run.id)
            clock.advance(timedelta(seconds=25))  # 12 runs: 300 s, more than two lifetimes
    assert len(seen) == 12
    log = sim.request_log(TENANT)
    assert log.count("/api/v0/oauth2/token", status=200) >= 3
    assert log.count(RUNS, status=401) == 0


def test_oauth_token_revoked_server_side_is_refreshed_once_on_401(
    clock: ManualClock, make_client: Callable
) -> None:
    """A 401 for an OAuth token triggers one refresh and the request succeeds."""
    sim = oauth_sim(clock, expires_in=60)
    add_runs(sim, 4)
    frozen = clock.now()  # the client's clock stays behind: it cannot see the expiry coming
    with make_client(transport=sim.transport(), access_token=None, client_id=CLIENT_ID,
                     client_secret=CLIENT_SECRET, clock=lambda: frozen) as client:
        runs = client.list_workflow_runs(limit=2)
        next(runs)
        clock.advance(timedelta(minutes=5))
        assert len(list(runs)) == 3
    log = sim.request_log(TENANT)
    assert log.count(RUNS, status=401) == 1
    assert log.count("/api/v0/oauth2/token", status=200) == 2


def test_oauth_gives_up_after_one_refresh(api: Simulator, make_client: Callable) -> None:
    """When every token is refused (expired-tokens fault), only one refresh is tried."""
    with make_client(access_token=None, client_id=CLIENT_ID,
                     client_secret=CLIENT_SECRET) as client:
        list(client.list_segments())
        api.set_faults(TENANT, Faults(expired_tokens=True))
        with pytest.raises(AuthenticationError):
            list(client.list_segments())
    log = api.request_log(TENANT)
    assert log.count("/api/segments", status=401) == 2
    assert log.count("/api/v0/oauth2/token", status=200) == 2  # the first token + one refresh


def test_token_request_429_honours_retry_after(api: Simulator, make_client: Callable,
                                              sleeps: Sleeps) -> None:
    """A 429 on the OAuth token endpoint waits the server's Retry-After, then fetches."""
    api.set_faults(TENANT, only("/v0/oauth2/token", rate_limit_storm=1, retry_after=2))
    with make_client(access_token=None, client_id=CLIENT_ID,
                     client_secret=CLIENT_SECRET) as client:
        assert list(client.list_segments())
    assert sleeps == [2.0]
    assert api.request_log(TENANT).count("/api/v0/oauth2/token", status=429) == 1


@pytest.mark.parametrize(("fault", "status"), [("lose_answers", 0), ("truncated_bodies", 200)])
def test_lost_or_cut_token_answer_is_fetched_again(
    api: Simulator, make_client: Callable, sleeps: Sleeps, fault: str, status: int
) -> None:
    """A token answer that was lost or cut short is simply asked for again (it is safe)."""
    api.set_faults(TENANT, only("/v0/oauth2/token", **{fault: 1}))
    with make_client(access_token=None, client_id=CLIENT_ID,
                     client_secret=CLIENT_SECRET) as client:
        assert list(client.list_segments())
    entries = [(e.path, e.status) for e in api.request_log(TENANT).entries()]
    assert entries == [("/api/v0/oauth2/token", status), ("/api/v0/oauth2/token", 200),
                       ("/api/segments", 200)]
    assert len(sleeps) == 1


def test_static_token_401_mid_listing_is_not_retried(
    api: Simulator, make_client: Callable, sleeps: Sleeps
) -> None:
    """A static token refused (401) on page two raises at once: one request, no refresh."""
    add_runs(api, 6)
    with make_client() as client:
        runs = client.list_workflow_runs(limit=3)
        next(runs)
        api.set_faults(TENANT, Faults(expired_tokens_next=1))
        with pytest.raises(AuthenticationError) as info:
            list(runs)
    assert info.value.status == 401
    assert sleeps == []
    assert api.request_log(TENANT).count(RUNS, status=401) == 1


# ------------------------------------------------------------------------ stop and start


def only(path: str, **faults: Any) -> Faults:
    return Faults(only_paths=(path,), **faults)


def test_lost_stop_answer_rereads_the_run_before_sending_again(
    api: Simulator, make_client: Callable
) -> None:
    """A stop whose connection dropped is re-sent only after a GET shows the run still running."""
    run = api.tenant(TENANT).add_run(state="running")
    stop_path = f"/workflow/runs/{run.id}/stop"
    api.set_faults(TENANT, only(stop_path, drop_connections=1))
    with make_client() as client:
        result = client.stop_workflow_run(run.id)
    assert result.state.kind is StateKind.STOPPING
    entries = [(e.method, e.path, e.status) for e in api.request_log(TENANT).entries()]
    assert entries == [
        ("POST", f"/api{stop_path}", 0),
        ("GET", f"/api/workflow/runs/{run.id}", 200),
        ("POST", f"/api{stop_path}", 200),
    ]


@pytest.mark.parametrize("fault", ["truncated_bodies", "lose_answers"])
def test_stop_that_took_effect_is_not_sent_again(
    api: Simulator, make_client: Callable, fault: str
) -> None:
    """A stop that worked but whose answer was cut or lost is confirmed by a GET, not re-sent."""
    run = api.tenant(TENANT).add_run(state="running")
    stop_path = f"/workflow/runs/{run.id}/stop"
    api.set_faults(TENANT, only(stop_path, **{fault: 1}))
    with make_client() as client:
        result = client.stop_workflow_run(run.id)
    assert result.state.kind is StateKind.STOPPING
    log = api.request_log(TENANT)
    assert log.count(f"/api{stop_path}", method="POST") == 1
    assert log.count(f"/api/workflow/runs/{run.id}", method="GET") == 1


def test_stop_answered_5xx_is_verified_then_resent(api: Simulator, make_client: Callable) -> None:
    """A 5xx on stop (which did not act) leads to a GET, then one more stop."""
    run = api.tenant(TENANT).add_run(state="running")
    stop_path = f"/workflow/runs/{run.id}/stop"
    api.set_faults(TENANT, only(stop_path, server_errors=1))
    with make_client() as client:
        assert client.stop_workflow_run(run.id).state.kind is StateKind.STOPPING
    log = api.request_log(TENANT)
    assert log.count(f"/api{stop_path}", method="POST") == 2
    assert log.count(f"/api/workflow/runs/{run.id}", method="GET") == 1


def test_stop_is_not_resent_for_an_unknown_state(api: Simulator, make_client: Callable) -> None:
    """If the re-read shows a state the client does not know, the error is raised, no resend."""
    run = api.tenant(TENANT).add_run(state="hibernating")
    stop_path = f"/workflow/runs/{run.id}/stop"
    api.set_faults(TENANT, only(stop_path, drop_connections=1))
    with make_client() as client, pytest.raises(APIConnectionError):
        client.stop_workflow_run(run.id)
    assert api.request_log(TENANT).count(f"/api{stop_path}", method="POST") == 1


def test_lost_start_is_resent_only_when_no_run_was_created(
    api: Simulator, make_client: Callable
) -> None:
    """A start dropped before it acted (no new run listed) is sent once more and succeeds."""
    config_id = DEFAULT_CATALOG[0].config_id
    api.set_faults(TENANT, only("/workflow/runs", drop_connections=1))
    with make_client() as client:
        run = client.start_workflow(config_id, run_mode="full")
    assert run.state.is_active
    log = api.request_log(TENANT)
    assert log.count(RUNS, method="POST") == 2
    assert log.count(RUNS, method="GET") == 1
    assert len(api.tenant(TENANT).runs()) == 1


def test_lost_start_that_created_a_run_is_never_resent(
    api: Simulator, make_client: Callable
) -> None:
    """A start that acted but lost its answer raises OutcomeUnknownError naming the new run."""
    config_id = DEFAULT_CATALOG[0].config_id
    api.set_faults(TENANT, only("/workflow/runs", lose_answers=1))
    with make_client() as client, pytest.raises(OutcomeUnknownError) as info:
        client.start_workflow(config_id)
    created = api.tenant(TENANT).runs()
    assert len(created) == 1
    assert created[0].id in str(info.value)
    assert api.request_log(TENANT).count(RUNS, method="POST") == 1


def test_lost_start_answer_over_a_real_socket_is_never_resent(
    sim: Simulator, sim_server: str
) -> None:
    """Over real HTTP, a start that acted but whose connection was cut is not sent twice."""
    sim.set_rate_limit(None)
    sim.set_faults(TENANT, only("/workflow/runs", lose_answers=1))
    with AmperityClient(TENANT, base_url=sim_server, access_token=TOKEN, rate_limit_rps=0,
                        sleep=lambda _: None, clock=sim.clock.now) as client, pytest.raises(
        OutcomeUnknownError
    ) as info:
        client.start_workflow(DEFAULT_CATALOG[0].config_id)
    created = sim.tenant(TENANT).runs()
    assert len(created) == 1
    assert created[0].id in str(info.value)
    methods = [(e.method, e.status) for e in sim.request_log(TENANT).entries()]
    assert methods == [("POST", 0), ("GET", 200)]


# ------------------------------------------------------------------------ deprecation, secrets


@pytest.fixture
def fresh_deprecations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget which endpoints already warned (the registry is process-wide by design)."""
    monkeypatch.setattr(client_module, "_deprecations_seen", set())


def test_deprecation_headers_warn_once_per_endpoint(
    clock: ManualClock, make_client: Callable, fresh_deprecations: None
) -> None:
    """The simulator's real Deprecation/Sunset headers give one warning per endpoint."""
    sunset = datetime(2027, 5, 1, tzinfo=UTC)
    spec = TenantSpec(tenant_id=TENANT, static_tokens=(TOKEN,), seed=7, schedules=False,
                      deprecated_versions={"2024-04-01": sunset})
    sim = Simulator([spec], clock=clock, rate_limit_rps=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with make_client(transport=sim.transport()) as client:
            for _ in range(3):
                list(client.list_campaigns())
            list(client.list_segments())
            list(client.list_campaign_drafts())  # "unstable" is not deprecated: no warning
    messages = [str(w.message) for w in caught if issubclass(w.category, ApiDeprecationWarning)]
    assert len(messages) == 2
    assert any("GET /campaigns" in m and "01 May 2027" in m for m in messages)
    assert any("GET /segments" in m for m in messages)
    assert sim.request_log(TENANT).count("/api/campaigns") == 3


def test_retired_api_version_is_a_bad_request_naming_the_sunset(
    clock: ManualClock, make_client: Callable, sleeps: Sleeps, fresh_deprecations: None
) -> None:
    """Past its sunset a deprecated version answers 400, raised at once (never retried)."""
    spec = TenantSpec(tenant_id=TENANT, static_tokens=(TOKEN,), seed=7, schedules=False,
                      deprecated_versions={"2024-04-01": clock.now() + timedelta(hours=1)})
    sim = Simulator([spec], clock=clock, rate_limit_rps=None)
    clock.advance(timedelta(hours=2))
    with (
        make_client(transport=sim.transport()) as client,
        pytest.raises(BadRequestError, match="retired") as info,
    ):
        list(client.list_segments())
    assert info.value.status == 400
    assert sleeps == []
    assert sim.request_log(TENANT).count("/api/segments") == 1


def test_secrets_never_reach_logs_reprs_or_errors(
    clock: ManualClock, make_client: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    """At DEBUG, through faults, refreshes and auth failures, no credential appears anywhere."""
    sim = oauth_sim(clock, expires_in=3600)
    add_runs(sim, 5)
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx and httpcore
    shown: list[str] = []
    tokens: list[str] = []

    def keep(error: BaseException) -> None:
        shown.extend([str(error), repr(error), str(error.__cause__ or ""),
                      repr(error.__context__ or "")])

    with make_client(transport=sim.transport(), access_token=None, client_id=CLIENT_ID,
                     client_secret=CLIENT_SECRET) as client:
        sim.set_faults(TENANT, Faults(server_errors=1, expired_tokens_next=1))
        assert len(list(client.list_workflow_runs(limit=2))) == 5  # a 500, a 401 + refresh
        tokens.append(client._auth.get_token())
        shown.append(repr(client))
        sim.set_faults(TENANT, Faults(expired_tokens=True))
        with pytest.raises(AuthenticationError) as refused:
            client.get_workflow_run("wf-20990101-00000-nothere")
        keep(refused.value)
        tokens.append(client._auth.get_token())
        shown.append(repr(client._auth))
    with make_client(transport=sim.transport(), access_token=None, client_id=CLIENT_ID,
                     client_secret="wrong-" + CLIENT_SECRET) as bad_secret, pytest.raises(
        AuthenticationError
    ) as bad:
        list(bad_secret.list_segments())
    keep(bad.value)
    expired = sim.mint_token(TENANT, expires_in=timedelta(seconds=1))
    with make_client(transport=sim.transport(), access_token=expired,
                     token_warn_within=timedelta(0)) as static:
        shown.append(repr(static))
        clock.advance(timedelta(seconds=5))
        with pytest.raises(TokenExpiredError) as gone:
            list(static.list_segments())
        keep(gone.value)
    text = caplog.text + "\n".join(shown)
    assert "GET /workflow/runs -> 200" in caplog.text  # the DEBUG log is really there
    assert "refreshing the token once" in caplog.text
    assert sim.request_log(TENANT).count("/api/v0/oauth2/token", status=200) >= 2
    for secret in (CLIENT_SECRET, expired, TOKEN, *tokens):
        assert secret not in text
    assert "Bearer" not in text
    assert "authorization" not in text.lower()
    assert "eyJhbGci" not in text  # no JWT at all, whoever issued it


def test_from_env_reads_amperity_variables(monkeypatch: pytest.MonkeyPatch,
                                           api: Simulator) -> None:
    """from_env builds a working client from AMPERITY_* and names what is missing."""
    monkeypatch.setenv("AMPERITY_TENANT_ID", TENANT)
    monkeypatch.setenv("AMPERITY_BASE_URL", IN_PROCESS_BASE_URL)
    monkeypatch.setenv("AMPERITY_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("AMPERITY_RATE_LIMIT_RPS", "0")
    monkeypatch.setenv("AMPERITY_API_VERSION_PROFILE", "2025-07-31")
    with AmperityClient.from_env(transport=api.transport()) as client:
        assert client.api_versions["profile"] == "2025-07-31"
        assert list(client.list_segments())
    monkeypatch.delenv("AMPERITY_ACCESS_TOKEN")
    with pytest.raises(ValueError, match="AMPERITY_ACCESS_TOKEN"):
        AmperityClient.from_env()


def test_from_env_reads_the_rate_budget_margin(monkeypatch: pytest.MonkeyPatch,
                                               api: Simulator) -> None:
    """AMPERITY_RATE_LIMIT_MARGIN_MS widens the budget's window; out of range is refused."""
    monkeypatch.setenv("AMPERITY_TENANT_ID", TENANT)
    monkeypatch.setenv("AMPERITY_BASE_URL", IN_PROCESS_BASE_URL)
    monkeypatch.setenv("AMPERITY_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("AMPERITY_RATE_LIMIT_BACKEND", "memory")
    monkeypatch.setenv("AMPERITY_RATE_LIMIT_MARGIN_MS", "100")
    with AmperityClient.from_env(transport=api.transport()) as client:
        assert client._limiter is not None
        assert client._limiter.window == pytest.approx(1.1)
    monkeypatch.setenv("AMPERITY_RATE_LIMIT_MARGIN_MS", "5000")
    with pytest.raises(ValueError, match="rate_limit_margin_ms"):
        AmperityClient.from_env()


class Rewrite(httpx.BaseTransport):
    """Passes requests to the simulator, then replaces the body of 200 answers."""

    def __init__(self, inner: httpx.BaseTransport, body: bytes):
        self.inner, self.body = inner, body

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        if response.status_code != 200:
            return response
        return httpx.Response(200, content=self.body, request=request,
                              headers={"content-type": "application/json"})


def test_wrong_shape_is_a_validation_error_naming_the_field(
    api: Simulator, make_client: Callable, sleeps: Sleeps
) -> None:
    """A 200 whose envelope is not a page raises, naming the field, without retry.

    (Issue #9 moved the per-record case, once asserted here, to per-item parsing: a record
    missing fields is kept and flagged; see test_odd_records.py.)
    """
    broken = Rewrite(api.transport(), b'{"runs": [{"id": "wf-1", "state": "running"}]}')
    with make_client(transport=broken) as client, pytest.raises(
        APIResponseValidationError, match=r"no 'data' list"
    ):
        list(client.list_workflow_runs())
    assert sleeps == []


def test_a_200_that_is_not_json_is_retried_then_reported(
    api: Simulator, make_client: Callable, sleeps: Sleeps
) -> None:
    """A GET answered 200 with HTML (a proxy page) is retried, then raises a connection error."""
    html = Rewrite(api.transport(), b"<html><body>Service Unavailable</body></html>")
    with (
        make_client(transport=html, retry_policy=RetryPolicy(max_attempts=3)) as client,
        pytest.raises(APIConnectionError, match="not JSON"),
    ):
        list(client.list_segments())
    assert len(sleeps) == 2
    assert api.request_log(TENANT).count("/api/segments", status=200) == 3


def test_an_injected_http_client_is_used_and_left_open(api: Simulator) -> None:
    """http_client= is used for requests and not closed with the AmperityClient."""
    http = httpx.Client(transport=api.transport())
    with AmperityClient(TENANT, base_url=IN_PROCESS_BASE_URL, access_token=TOKEN,
                        http_client=http, rate_limit_rps=0) as client:
        assert list(client.list_segments())
    assert not http.is_closed
    http.close()


def test_profile_filters_with_brackets_are_refused(make_client: Callable) -> None:
    """A filter attribute that would break the filter[...] syntax raises ValueError."""
    with make_client() as client, pytest.raises(ValueError, match="filters"):
        client.list_profiles("idx-1", filters={"a]b": "x"})


def test_stop_that_acted_over_a_real_socket_is_confirmed_not_resent(
    sim: Simulator, sim_server: str
) -> None:
    """Over real HTTP, a stop that took effect but lost its answer is confirmed by one GET."""
    sim.set_rate_limit(None)
    run = sim.tenant(TENANT).add_run(state="running")
    sim.set_faults(TENANT, only(f"/workflow/runs/{run.id}/stop", lose_answers=1))
    with AmperityClient(TENANT, base_url=sim_server, access_token=TOKEN, rate_limit_rps=0,
                        sleep=lambda _: None) as client:
        assert client.stop_workflow_run(run.id).state.kind is StateKind.STOPPING
    methods = [(e.method, e.status) for e in sim.request_log(TENANT).entries()]
    assert methods == [("POST", 0), ("GET", 200)]


def test_lost_stop_answer_over_a_real_socket(sim: Simulator, sim_server: str) -> None:
    """Over real HTTP a dropped stop connection is verified with a GET before one more stop."""
    sim.set_rate_limit(None)
    run = sim.tenant(TENANT).add_run(state="running")
    stop_path = f"/workflow/runs/{run.id}/stop"
    sim.set_faults(TENANT, only(stop_path, drop_connections=1))
    with AmperityClient(TENANT, base_url=sim_server, access_token=TOKEN, rate_limit_rps=0,
                        sleep=lambda _: None) as client:
        assert client.stop_workflow_run(run.id).state.kind is StateKind.STOPPING
    methods = [(e.method, e.status) for e in sim.request_log(TENANT).entries()]
    assert methods == [("POST", 0), ("GET", 200), ("POST", 200)]


def test_permission_denied_is_never_retried_and_cancel_states_normalise(
    clock: ManualClock, sleeps: Sleeps
) -> None:
    """A read-only token's stop is a 403 sent once; a 'canceling' answer reads as stopping."""
    spec = TenantSpec(tenant_id=TENANT, static_tokens=(TOKEN,), read_only_tokens=("ro-token",),
                      cancel_types=("campaign.send",), seed=7, schedules=False)
    sim = Simulator([spec], clock=clock, rate_limit_rps=None)
    run = sim.tenant(TENANT).add_run(state="running", type="campaign.send")
    common = {"base_url": IN_PROCESS_BASE_URL, "transport": sim.transport(),
              "rate_limit_rps": 0, "sleep": sleeps}
    with AmperityClient(TENANT, access_token="ro-token", **common) as reader, pytest.raises(
        PermissionDeniedError
    ) as info:
        reader.stop_workflow_run(run.id)
    assert info.value.status == 403
    assert sleeps == []
    assert sim.request_log(TENANT).count(f"{RUNS}/{run.id}/stop") == 1
    with AmperityClient(TENANT, access_token=TOKEN, **common) as writer:
        stopped = writer.stop_workflow_run(run.id)
    assert stopped.state.raw == "canceling"
    assert stopped.state.kind is StateKind.STOPPING
