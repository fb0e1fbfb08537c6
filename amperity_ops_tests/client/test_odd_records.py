"""Issue #9 (client side) over the simulator: odd records, bounded stops/starts, ids, URLs."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from amperity_ops.client import (
    AmperityClient,
    APIConnectionError,
    APIResponseValidationError,
    NotFoundError,
    ServerError,
    StateKind,
    errors,
)
from amperity_ops.client.models import WorkflowRun
from amperity_ops.monitoring.sla import SlaLevel, SlaRule, evaluate_sla
from amperity_ops.simulator import DEFAULT_CATALOG, IN_PROCESS_BASE_URL, Faults, Simulator
from amperity_ops_tests.conftest import TENANT, TOKEN

RUNS = "/api/workflow/runs"


class Sleeps(list[float]):
    """Records the waits the client asks for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    """The client's waits, recorded instead of slept."""
    return Sleeps()


@pytest.fixture
def make_client(sim: Simulator, sleeps: Sleeps) -> Callable[..., AmperityClient]:
    """In-process clients on the simulator with its limiter off; keywords override."""
    sim.set_rate_limit(None)

    def build(**overrides: Any) -> AmperityClient:
        kwargs: dict[str, Any] = {
            "base_url": IN_PROCESS_BASE_URL, "access_token": TOKEN,
            "transport": sim.transport(), "rate_limit_rps": 0, "clock": sim.clock.now,
            "sleep": sleeps, "rng": lambda: 0.0,
        }
        kwargs.update(overrides)
        return AmperityClient(TENANT, **kwargs)

    return build


def five_runs(sim: Simulator) -> list[str]:
    """Five running runs, newest first (the order the listing returns them)."""
    world = sim.tenant(TENANT)
    return [world.add_run(state="running", started_ago=timedelta(minutes=m), name=f"Run {m}").id
            for m in (1, 2, 3, 4, 5)]


# ------------------------------------------------------------------------ per-item parsing

ODD_CASES = [
    ("null_created_at", ("created_at",)),
    ("missing_created_at", ("created_at",)),
    ("wrong_types", ("ended_at", "name", "warn_after_ms")),
    ("unknown_state", ()),
    ("offset_time", ()),
    ("long_name", ()),
    ("extra_fields", ()),
]


@pytest.mark.parametrize(("kind", "problems"), ODD_CASES)
def test_one_odd_record_never_blinds_the_page(
    sim: Simulator, make_client: Callable, kind: str, problems: tuple[str, ...]
) -> None:
    """An odd record is kept, flagged with the fields that did not fit, and counted; the
    other four are parsed as usual."""
    ids = five_runs(sim)
    sim.set_faults(TENANT, Faults(odd_records=1, odd_kind=kind))
    with make_client() as client:
        pages = client.list_workflow_runs()
        runs = list(pages)
    assert [r.id for r in runs] == ids
    odd, rest = runs[0], runs[1:]
    assert odd.problems == problems
    assert odd.is_partial is bool(problems)
    assert pages.odd_records == (1 if problems else 0)
    assert all(not r.problems and r.created_at is not None for r in rest)
    assert all(r.state.kind is StateKind.RUNNING for r in rest)
    if kind == "unknown_state":
        assert odd.state.is_unknown
        assert not odd.state.is_stoppable
    if kind == "offset_time":
        assert odd.created_at is not None
        assert odd.created_at.utcoffset() == timedelta(0)
        assert odd.created_at == rest[0].created_at + timedelta(minutes=1)
    if kind == "long_name":
        assert len(odd.name) == 5000
        assert "数据" in odd.name
    if kind == "extra_fields":
        assert (odd.model_extra or {})["labels"] == {"team": "data"}


def test_a_queued_run_has_an_unknown_start_and_no_runtime(
    sim: Simulator, make_client: Callable
) -> None:
    """created_at null: start_unknown, runtime None, and the SLA says neither ok-within nor
    over (no rule, never breached) even against a 1-second maximum."""
    five_runs(sim)
    sim.set_faults(TENANT, Faults(odd_records=1, odd_kind="null_created_at"))
    with make_client() as client:
        queued = next(iter(client.list_workflow_runs()))
    now = sim.clock.now()
    assert queued.start_unknown
    assert queued.runtime(now) is None
    rule = SlaRule("policy", None, timedelta(seconds=1), "stop", "tight")
    verdict = evaluate_sla(queued, rule, now)
    assert verdict.level is SlaLevel.OK
    assert verdict.rule is None


def test_a_record_without_an_id_is_left_out_and_counted(
    sim: Simulator, make_client: Callable
) -> None:
    """A record whose id is null cannot be acted on: dropped, counted, the rest kept."""
    ids = five_runs(sim)
    sim.set_faults(TENANT, Faults(odd_records=1, odd_kind="no_id"))
    with make_client() as client:
        pages = client.list_workflow_runs()
        runs = list(pages)
    assert [r.id for r in runs] == ids[1:]
    assert (pages.odd_records, pages.dropped_records) == (1, 1)


def test_odd_single_read_is_kept_and_flagged(sim: Simulator, make_client: Callable) -> None:
    """GET /workflow/runs/{id} with created_at missing gives the run, flagged, not an error."""
    run_id = five_runs(sim)[2]
    sim.set_faults(TENANT, Faults(odd_records=1, odd_kind="missing_created_at"))
    with make_client() as client:
        run = client.get_workflow_run(run_id)
    assert run.id == run_id
    assert run.start_unknown
    assert run.problems == ("created_at",)


def test_broken_envelope_fails_that_request_only(sim: Simulator, make_client: Callable) -> None:
    """A page without 'data' raises for that listing; the next listing works as usual."""
    ids = five_runs(sim)
    sim.set_faults(TENANT, Faults(broken_envelopes=1))
    with make_client() as client:
        with pytest.raises(APIResponseValidationError, match="data"):
            list(client.list_workflow_runs())
        assert [r.id for r in client.list_workflow_runs()] == ids


def test_partial_records_pickle_with_their_problems(
    sim: Simulator, make_client: Callable
) -> None:
    """A flagged record is a plain WorkflowRun that keeps its problems through pickling."""
    import pickle

    five_runs(sim)
    sim.set_faults(TENANT, Faults(odd_records=1, odd_kind="wrong_types"))
    with make_client() as client:
        odd = next(iter(client.list_workflow_runs()))
    copy = pickle.loads(pickle.dumps(odd))
    assert type(copy) is WorkflowRun
    assert copy.problems == odd.problems
    assert copy.name == "12345"


# ------------------------------------------------------------------------ bounded stop/start


def test_a_stop_is_sent_at_most_three_times_in_a_5xx_storm(
    sim: Simulator, make_client: Callable, sleeps: Sleeps
) -> None:
    """POST stop answered 500 forever: 3 POSTs, each re-send after a GET showing running and a
    backoff of at least half its step; then one GaveUpError naming every request id."""
    run = sim.tenant(TENANT).add_run(state="running")
    stop = f"/workflow/runs/{run.id}/stop"
    sim.set_faults(TENANT, Faults(only_paths=(stop,), server_errors=100))
    with make_client() as client, pytest.raises(errors.GaveUpError) as info:
        client.stop_workflow_run(run.id)
    entries = [(e.method, e.path.rsplit("/", 1)[-1], e.status)
               for e in sim.request_log(TENANT).entries()]
    assert entries == [("POST", "stop", 500), ("GET", run.id, 200)] * 3
    assert sleeps == [0.5, 1.0]  # rng 0: the floor of equal jitter (steps 1 s, 2 s)
    err = info.value
    assert err.outcome == "failed"
    assert len(err.request_ids) == 3
    for request_id in err.request_ids:
        assert request_id in str(err)
    assert "sent 3 time(s)" in str(err)
    assert "500" in str(err)
    assert "'running'" in str(err)


def test_a_stop_is_sent_at_most_three_times_in_a_429_storm(
    sim: Simulator, make_client: Callable
) -> None:
    """POST stop answered 429 forever: still 3 POSTs in all, never the 6 of a GET's policy."""
    run = sim.tenant(TENANT).add_run(state="running")
    stop = f"/workflow/runs/{run.id}/stop"
    sim.set_faults(TENANT, Faults(only_paths=(stop,), rate_limit_storm=100))
    with make_client() as client, pytest.raises(errors.GaveUpError):
        client.stop_workflow_run(run.id)
    assert sim.request_log(TENANT).count(f"/api{stop}", method="POST") == 3


def test_a_stop_that_finally_takes_returns_the_run(sim: Simulator, make_client: Callable) -> None:
    """Two 500s then success: 3 POSTs, the third answer is the stopping run."""
    run = sim.tenant(TENANT).add_run(state="running")
    stop = f"/workflow/runs/{run.id}/stop"
    sim.set_faults(TENANT, Faults(only_paths=(stop,), server_errors=2))
    with make_client() as client:
        assert client.stop_workflow_run(run.id).state.kind is StateKind.STOPPING
    assert sim.request_log(TENANT).count(f"/api{stop}", method="POST") == 3


def test_a_start_is_sent_at_most_three_times(sim: Simulator, make_client: Callable) -> None:
    """POST /workflow/runs refused 429 forever (nothing created): 3 POSTs, then GaveUpError."""
    sim.set_faults(TENANT, Faults(only_paths=("/workflow/runs",), rate_limit_storm=100))
    with make_client() as client, pytest.raises(errors.GaveUpError) as info:
        client.start_workflow(DEFAULT_CATALOG[0].config_id)
    assert sim.request_log(TENANT).count(RUNS, method="POST") == 3
    assert "429" in str(info.value)
    assert len(info.value.request_ids) == 3


# ------------------------------------------------------------------------ ids in errors/logs


def test_request_id_is_in_every_debug_line_and_error_about_a_failure(
    sim: Simulator, make_client: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    """A GET failing 500 thrice: each DEBUG line and str(err) carry the body's request_id."""
    sim.set_faults(TENANT, Faults(server_errors=3))
    caplog.set_level(logging.DEBUG, logger="amperity_ops.client")
    with make_client(retry_policy=_policy(3)) as client, pytest.raises(ServerError) as info:
        list(client.list_segments())
    failed = [r.getMessage() for r in caplog.records
              if r.levelno == logging.DEBUG and "-> 500" in r.getMessage()]
    assert len(failed) == 3
    assert all("request_id=None" not in line for line in failed)
    assert info.value.request_id
    assert info.value.request_id in failed[-1]
    assert f"request_id={info.value.request_id}" in str(info.value)


def test_trace_id_from_the_body_is_kept_and_shown() -> None:
    """An error body with request_id and trace_id: both on the error and in str(err)."""
    err = errors.make_status_error(
        502, b'{"status": 502, "message": "bad gateway", "request_id": "r-9", "trace_id": "t-7"}',
        method="GET", path="/segments",
    )
    assert (err.request_id, err.trace_id) == ("r-9", "t-7")
    assert str(err) == "502 bad gateway on GET /segments (request_id=r-9, trace_id=t-7)"


def _policy(attempts: int) -> Any:
    from amperity_ops.client import RetryPolicy

    return RetryPolicy(max_attempts=attempts)


# ------------------------------------------------------------------------ connection errors


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return port


def test_unreachable_host_names_the_url_and_the_setting(closed_port: int) -> None:
    """Connection refused: the error names scheme, host, port, path and the setting to fix,
    never the token or a query."""
    with AmperityClient(
        TENANT, base_url=f"http://user:pw@127.0.0.1:{closed_port}/api", access_token=TOKEN,
        rate_limit_rps=0, sleep=lambda _: None, base_url_source="AMPERITY_BASE_URL",
        retry_policy=_policy(1),
    ) as client, pytest.raises(APIConnectionError) as info:
        list(client.list_workflow_runs(state="running"))
    text = str(info.value)
    assert f"http://127.0.0.1:{closed_port}/api/workflow/runs" in text
    assert "check AMPERITY_BASE_URL" in text
    assert TOKEN not in text
    assert "pw" not in text
    assert "state=" not in text


def test_wrong_path_names_the_url_and_the_setting(sim: Simulator, sim_server: str) -> None:
    """A base URL without /api answers 404 on a listing: the error says where and what to fix."""
    sim.set_rate_limit(None)
    root = sim_server.removesuffix("/api")
    with AmperityClient(
        TENANT, base_url=root, access_token=TOKEN, rate_limit_rps=0,
        base_url_source="tenants[1].base_url",
    ) as client, pytest.raises(NotFoundError) as info:
        list(client.list_segments())
    assert f"{root}/segments" in str(info.value).replace("localhost", "127.0.0.1") or (
        "/segments" in str(info.value)
    )
    assert "check tenants[1].base_url" in str(info.value)


def test_default_setting_name_is_base_url(closed_port: int) -> None:
    """Without base_url_source the error names the constructor keyword, base_url."""
    with AmperityClient(
        TENANT, base_url=f"http://127.0.0.1:{closed_port}/api", access_token=TOKEN,
        rate_limit_rps=0, sleep=lambda _: None, retry_policy=_policy(1),
    ) as client, pytest.raises(APIConnectionError, match="check base_url"):
        client.get_workflow_run("wf-1")
