"""Table tests for monitoring.stop_retry: which stops are tried again, when, and when to give up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from amperity_ops.core import StopResult
from amperity_ops.core.alerts import AlertLevel
from amperity_ops.monitoring.stop_retry import (
    MAX_STOP_ATTEMPTS,
    NEVER_FINISHED_AFTER,
    RETRY_BACKOFF,
    JobState,
    StopRetryPlan,
    apply_stop_retries,
    attempt_number,
    attempt_run_key,
    plan_stop_retries,
    still_requested,
)
from amperity_ops.monitoring.tick import StopRequest, TickPlan

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
WF = "wf-20260501-1-AbCdEf"


@dataclass(frozen=True)
class Row:
    """A stand-in for a stop-ledger row (only what the plan reads)."""

    id: int
    run_key: str
    workflow_id: str = WF
    result: StopResult | None = None
    requested_at: datetime = NOW - timedelta(hours=1)
    finished_at: datetime | None = None
    detail: str | None = None
    launched_as: str | None = None

    @property
    def dagster_run_key(self) -> str:
        return self.launched_as or self.run_key


def key(attempt: int) -> str:
    return attempt_run_key("acme", WF, attempt)


def test_run_keys_per_attempt() -> None:
    """The first attempt keeps the old key; later ones add :2, :3, and are read back."""
    assert key(1) == f"stop:acme:{WF}"
    assert key(2) == f"stop:acme:{WF}:2"
    assert [attempt_number(key(n), WF) for n in (1, 2, 3)] == [1, 2, 3]


@pytest.mark.parametrize(
    ("state", "age", "detail", "completed"),
    [
        (JobState.FAILED, timedelta(minutes=1), None, StopResult.FAILED),
        (JobState.CANCELED, timedelta(minutes=1), None, StopResult.KILLED),
        (JobState.IN_FLIGHT, timedelta(minutes=5), None, None),
        (JobState.IN_FLIGHT, NEVER_FINISHED_AFTER, None, StopResult.OUTCOME_UNKNOWN),
        (JobState.SUCCEEDED, NEVER_FINISHED_AFTER, None, StopResult.OUTCOME_UNKNOWN),
        (JobState.MISSING, NEVER_FINISHED_AFTER, None, None),  # the lost-stop path goes first
        (JobState.MISSING, NEVER_FINISHED_AFTER, "requested again at ...", StopResult.FAILED),
    ],
)
def test_open_rows_are_completed_by_what_dagster_says(
    state: JobState, age: timedelta, detail: str | None, completed: StopResult | None
) -> None:
    """An open row ends failed / killed / outcome unknown once its job is over, never sooner."""
    row = Row(1, key(1), requested_at=NOW - age, detail=detail)
    plan = plan_stop_retries([row], job_state=lambda _: state, now=NOW)
    assert [c.result for c in plan.completions] == ([completed] if completed else [])
    if completed is None:
        assert not plan.ready
        assert not plan.waiting


@pytest.mark.parametrize(
    ("rows", "ready", "waiting", "gave_up"),
    [
        # attempt 1 failed just now: wait the first backoff
        ([Row(1, key(1), result=StopResult.FAILED, finished_at=NOW)], {}, {WF}, set()),
        # ... and after it, attempt 2
        ([Row(1, key(1), result=StopResult.KILLED, finished_at=NOW - RETRY_BACKOFF[0])],
         {WF: 2}, set(), set()),
        # attempt 2 ended unknown: attempt 3 after the second backoff only
        ([Row(1, key(1), result=StopResult.FAILED, finished_at=NOW - timedelta(hours=1)),
          Row(2, key(2), result=StopResult.OUTCOME_UNKNOWN,
              finished_at=NOW - RETRY_BACKOFF[0])], {}, {WF}, set()),
        ([Row(1, key(1), result=StopResult.FAILED, finished_at=NOW - timedelta(hours=1)),
          Row(2, key(2), result=StopResult.OUTCOME_UNKNOWN,
              finished_at=NOW - RETRY_BACKOFF[1])], {WF: 3}, set(), set()),
        # the last attempt did not take: give up
        ([Row(n, key(n), result=StopResult.FAILED, finished_at=NOW - timedelta(hours=1))
          for n in range(1, MAX_STOP_ATTEMPTS + 1)], {}, set(), {WF}),
        # Amperity applied it (stopped, still stopping at the timeout): never again
        ([Row(1, key(1), result=StopResult.STOPPED, finished_at=NOW - timedelta(hours=1))],
         {}, set(), set()),
        ([Row(1, key(1), result=StopResult.STILL_STOPPING, finished_at=NOW - timedelta(hours=1))],
         {}, set(), set()),
        # attempt 2 still in flight: nothing yet, whatever attempt 1 said
        ([Row(1, key(1), result=StopResult.FAILED, finished_at=NOW - timedelta(hours=1)),
          Row(2, key(2), requested_at=NOW - timedelta(minutes=1))], {}, set(), set()),
    ],
)
def test_which_runs_are_tried_again(
    rows: list[Row], ready: dict[str, int], waiting: set[str], gave_up: set[str]
) -> None:
    """The latest attempt decides: retryable endings wait their backoff, then the next key."""
    plan = plan_stop_retries(rows, job_state=lambda _: JobState.IN_FLIGHT, now=NOW)
    assert plan.ready == ready
    assert set(plan.waiting) == waiting
    assert set(plan.gave_up) == gave_up


def test_a_killed_job_is_completed_and_retried_after_its_backoff() -> None:
    """The completion counts as the attempt's end: the backoff runs from it."""
    row = Row(1, key(1))
    first = plan_stop_retries([row], job_state=lambda _: JobState.CANCELED, now=NOW)
    assert first.completions[0].result is StopResult.KILLED
    assert first.waiting == {WF: NOW + RETRY_BACKOFF[0]}


def _plan_with_request() -> TickPlan:
    plan = TickPlan(tenant="acme", summary="acme: looked at 1", headline="acme: looked at 1")
    plan.stop_requests.append(StopRequest("acme", WF, "Nightly", key(1), "over"))
    return plan


def test_apply_gives_a_retry_its_attempt_key() -> None:
    """A fresh decision to stop a reopened run is sent under ``stop:<t>:<id>:<n>``."""
    plan = _plan_with_request()
    lines = apply_stop_retries(plan, StopRetryPlan(ready={WF: 2}), now=NOW)
    assert [r.run_key for r in plan.stop_requests] == [key(2)]
    assert "attempt 2 of 3" in lines[0]
    assert "attempt 2 of 3" in plan.summary


def test_apply_turns_a_given_up_stop_into_one_alert() -> None:
    """After the last attempt nothing is sent; one alert under its own dedup key says so."""
    plan = _plan_with_request()
    apply_stop_retries(plan, StopRetryPlan(gave_up={WF: "stop job failed"}), now=NOW,
                       link_for=lambda i: f"https://app/{i}")
    assert plan.stop_requests == []
    [alert] = plan.alerts
    assert alert.level is AlertLevel.BREACHED
    assert "STOP GAVE UP" in alert.title
    assert alert.dedup_key.endswith(f"stop-gave-up:{WF}")
    assert alert.link == f"https://app/{WF}"


def test_reopened_runs_are_not_counted_as_requested() -> None:
    """Ready and given-up runs are decided afresh; waiting and in-flight ones stay requested."""
    retries = StopRetryPlan(ready={"a": 2}, gave_up={"b": "x"}, waiting={"c": NOW})
    assert still_requested({"a", "b", "c", "d"}, retries) == {"c", "d"}


def test_a_stop_in_a_failed_batch_is_completed_from_the_batch_runs_state() -> None:
    """A row carried by a batch run is judged by that run, and its stop is tried again."""
    row = Row(1, key(1), launched_as="stops:batch-1")
    asked: list[str] = []

    def state(run_key: str) -> JobState:
        asked.append(run_key)
        return JobState.FAILED if run_key == "stops:batch-1" else JobState.MISSING

    plan = plan_stop_retries([row], job_state=state, now=NOW)
    assert asked == ["stops:batch-1"]
    assert [c.result for c in plan.completions] == [StopResult.FAILED]
    assert "stop batch stops:batch-1" in plan.completions[0].detail
    assert plan.waiting or plan.ready  # attempt 2 follows its backoff
