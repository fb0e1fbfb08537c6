"""Models: state normalisation, UTC datetimes, tolerance of new fields, spec coverage."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from amperity_ops.client import models
from amperity_ops.client.models import (
    IngestJob,
    Page,
    Profile,
    StateKind,
    WorkflowRun,
    WorkflowState,
    normalise_state,
)

SPECS = Path("/work/shared/amperity-api")

RUN = {
    "id": "wf-20240619-14418-6UhqSe",
    "state": "running",
    "type": "courier.group/run",
    "name": "Nightly",
    "tenant": "acme",
    "created_at": "2026-11-01T01:00:00Z",
}


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("Started", StateKind.RUNNING),
        ("In progress", StateKind.RUNNING),
        ("in-progress", StateKind.RUNNING),
        ("IN_PROGRESS", StateKind.RUNNING),
        ("Running", StateKind.RUNNING),
        ("Running with failures", StateKind.RUNNING_WITH_FAILURES),
        ("running-with_failures", StateKind.RUNNING_WITH_FAILURES),
        ("Scheduled", StateKind.SCHEDULED),
        ("Paused", StateKind.PAUSED),
        ("Finalizing", StateKind.FINALIZING),
        ("Stopping", StateKind.STOPPING),
        ("Canceling", StateKind.STOPPING),
        ("cancelling", StateKind.STOPPING),
        ("Stopped", StateKind.STOPPED),
        ("canceled", StateKind.STOPPED),
        ("Cancelled", StateKind.STOPPED),
        ("succeeded", StateKind.SUCCEEDED),
        ("  Failed ", StateKind.FAILED),
        ("Skipped", StateKind.SKIPPED),
        ("exploded", StateKind.UNKNOWN),
        ("", StateKind.UNKNOWN),
        ("running_sideways", StateKind.UNKNOWN),
    ],
)
def test_every_documented_state_spelling_normalises(raw: str, kind: StateKind) -> None:
    """Each documented state spelling (any case/separator) maps to its kind; others to unknown."""
    assert normalise_state(raw) is kind


def test_state_predicates_follow_the_contract() -> None:
    """is_active / is_stoppable / is_terminal partition the kinds exactly as CONTRACTS.md says."""
    active = {k for k in StateKind if WorkflowState(kind=k, raw=k.value).is_active}
    stoppable = {k for k in StateKind if WorkflowState(kind=k, raw=k.value).is_stoppable}
    terminal = {k for k in StateKind if WorkflowState(kind=k, raw=k.value).is_terminal}
    assert active == {"scheduled", "running", "running_with_failures", "paused", "finalizing",
                      "stopping"}
    assert stoppable == {"running", "running_with_failures", "paused"}
    assert terminal == {"stopped", "succeeded", "failed", "skipped"}


def test_unknown_state_keeps_raw_text_and_is_never_stoppable() -> None:
    """An unrecognised state keeps its wire text and is neither active, stoppable nor terminal."""
    run = WorkflowRun.model_validate({**RUN, "state": "Hibernating"})
    assert run.state.kind is StateKind.UNKNOWN
    assert run.state.raw == "Hibernating"
    assert str(run.state) == "Hibernating"
    assert not run.state.is_active
    assert not run.state.is_stoppable
    assert not run.state.is_terminal


def test_state_round_trips_through_json_as_the_wire_text() -> None:
    """A run serialises its state as the raw text and validates back to the same state."""
    run = WorkflowRun.model_validate({**RUN, "state": "In progress"})
    dumped = json.loads(run.model_dump_json())
    assert dumped["state"] == "In progress"
    again = WorkflowRun.model_validate(dumped)
    assert again.state == run.state
    assert again.state.kind is StateKind.RUNNING


def test_datetimes_are_utc_aware_naive_read_as_utc_offsets_converted() -> None:
    """A naive wire timestamp is read as UTC; an offset one is converted to UTC."""
    naive = WorkflowRun.model_validate({**RUN, "created_at": "2026-11-01T01:00:00"})
    offset = WorkflowRun.model_validate({**RUN, "created_at": "2026-11-01T03:00:00+02:00"})
    assert naive.created_at == datetime(2026, 11, 1, 1, tzinfo=UTC)
    assert naive.created_at.tzinfo is UTC
    assert offset.created_at == naive.created_at
    assert offset.created_at.tzinfo is UTC


def test_runtime_uses_end_or_now_and_warn_after() -> None:
    """runtime() is ended_at - created_at when ended, now - created_at otherwise."""
    run = WorkflowRun.model_validate({**RUN, "warn_after_ms": 90_000})
    now = datetime(2026, 11, 1, 2, 30, tzinfo=UTC)
    assert run.runtime(now) == timedelta(hours=1, minutes=30)
    assert run.runtime(now.astimezone(timezone(timedelta(hours=5)))) == timedelta(minutes=90)
    assert run.warn_after == timedelta(seconds=90)
    ended = WorkflowRun.model_validate({**RUN, "ended_at": "2026-11-01T01:10:00Z"})
    assert ended.runtime(now) == timedelta(minutes=10)


def test_new_fields_are_kept_not_rejected() -> None:
    """Unknown fields from the server survive parsing (Amperity adds fields without notice)."""
    run = WorkflowRun.model_validate({**RUN, "shiny_new_field": {"a": 1}})
    assert run.model_extra == {"shiny_new_field": {"a": 1}}


def test_verbose_run_parses_tasks_with_states_and_timeouts() -> None:
    """Task instances parse with normalised states, timeout and error."""
    run = WorkflowRun.model_validate(
        {
            **RUN,
            "task_instances": [
                {"id": "wft-1", "state": "Running with failures", "tenant": "acme",
                 "timeout_ms": 60_000, "created_at": "2026-11-01T01:00:00Z",
                 "error": {"type": "boom", "message": "bad"}},
            ],
        }
    )
    task = run.tasks[0]
    assert task.state.kind is StateKind.RUNNING_WITH_FAILURES
    assert task.timeout == timedelta(minutes=1)
    assert task.error is not None
    assert task.error.message == "bad"
    assert task.runtime(datetime(2026, 11, 1, 1, 5, tzinfo=UTC)) == timedelta(minutes=5)


def test_ingest_job_parses_feeds_and_files() -> None:
    """An ingest job parses its feeds (with counts and state) and their files."""
    job = IngestJob.model_validate(
        {
            "id": "isj-1", "workflow_id": "wf-1",
            "tables": [{
                "feed_id": "df-1", "job_id": "isj-1", "table_name": "Orders", "state": "succeeded",
                "read": 10, "errors": 1, "rejected": 0, "inserted": 9, "updated": 0,
                "started_at": "2026-11-01T00:00:00Z", "ended_at": "2026-11-01T00:01:00Z",
                "files": [{"file_id": "f-1", "read": 10, "errors": 1}],
            }],
        }
    )
    assert job.tables[0].state.kind is StateKind.SUCCEEDED
    assert job.tables[0].files[0].read == 10


def test_page_parses_envelope_and_profile_attributes() -> None:
    """The list envelope parses data, next_token and total, generically over the item model."""
    page = Page[Profile].model_validate(
        {"data": [{"id": "cl-1", "index_id": "idx-1", "attributes": {"first_name": "Daniel"}}],
         "next_token": "abc", "total": 2}
    )
    assert page.data[0].attributes["first_name"] == "Daniel"
    assert (page.next_token, page.total) == ("abc", 2)


@pytest.mark.parametrize(
    "spec",
    ["control-plane-2024-04-01.openapi.json", "control-plane-unstable.openapi.json",
     "profile-2025-07-31.openapi.json"],
)
def test_every_spec_schema_has_a_model_and_its_examples_parse(spec: str) -> None:
    """Every schema in the three documents has a model of the same name; examples parse."""
    path = SPECS / spec
    if not path.exists():
        pytest.skip("API documents not on this machine")
    document = json.loads(path.read_text())
    for name in document["components"]["schemas"]:
        if name == "ProfileAttributes":  # a free-form map, held by Profile.attributes
            continue
        assert hasattr(models, name), name
        model = getattr(models, name)
        assert set(document["components"]["schemas"][name].get("properties", {})) <= set(
            model.model_fields
        ), name
    for ops in document["paths"].values():
        for op in ops.values():
            content = op.get("responses", {}).get("200", {}).get("content", {})
            example = content.get("application/json", {}).get("example")
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            if example is not None and ref:
                getattr(models, ref.rsplit("/", 1)[1]).model_validate(example)


def test_state_can_be_given_as_state_or_kind_and_compares_by_text() -> None:
    """Runs built from a WorkflowState, a StateKind or a string are equal when the text is."""
    from_text = WorkflowRun.model_validate(RUN)
    from_state = WorkflowRun.model_validate({**RUN, "state": WorkflowState.parse("running")})
    from_kind = WorkflowRun.model_validate({**RUN, "state": StateKind.RUNNING})
    assert from_text == from_state == from_kind
    assert from_kind.state.kind is StateKind.RUNNING
    assert from_text.model_dump()["state"] == "running"


def test_runs_survive_pickle_and_copy() -> None:
    """A run pickles and copies with its state and UTC datetimes intact."""
    import pickle

    run = WorkflowRun.model_validate({**RUN, "state": "Canceling"})
    again = pickle.loads(pickle.dumps(run))
    assert again == run
    assert again.state.kind is StateKind.STOPPING
    assert run.model_copy().state.raw == "Canceling"


def test_bad_datetime_names_the_field() -> None:
    """A timestamp that is not ISO-8601 fails validation naming the field."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="created_at"):
        WorkflowRun.model_validate({**RUN, "created_at": "last tuesday"})


def test_a_non_string_state_is_refused_naming_the_field() -> None:
    """A state that is not text is a validation error on 'state', not a crash later."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="state"):
        WorkflowRun.model_validate({**RUN, "state": 3})
