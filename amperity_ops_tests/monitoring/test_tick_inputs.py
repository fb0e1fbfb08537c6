"""What an SLA tick lists and re-reads, how it words a stop, and which stops were lost: tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from amperity_ops.core import Requester, StopResult
from amperity_ops.monitoring import StopRequest, TickPlan, evaluate_sla, resolve_sla
from amperity_ops.monitoring.tick_inputs import (
    dry_run_ending,
    ended_from,
    lost_stops,
    plan_rereads,
    plan_stop_ledger,
    stop_reason,
)
from amperity_ops.monitoring.tick_report import StopToRequest, cut_short_note
from amperity_ops_tests.monitoring.helpers import NOW, STOP_POLICY, config, run

M = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("last_tick_at", "expected"),
    [(None, NOW - 10 * M),  # first tick: the last ten minutes
     (NOW - M, NOW - 3 * M),  # the previous tick minus two minutes' overlap
     (NOW - 24 * 60 * M, NOW - 60 * M)],  # after a long pause: never more than an hour
)
def test_ended_listing_reaches_back_to(last_tick_at: datetime | None, expected: datetime) -> None:
    """The ended-runs listing starts at the previous tick minus overlap, capped at an hour."""
    assert ended_from(NOW, last_tick_at) == expected


@pytest.mark.parametrize(
    ("complete", "reread", "skipped"),
    [(True, {"wf-2", "wf-4"}, 0), (False, set(), 2)],
)
def test_only_alerted_unlisted_runs_are_re_read_after_a_full_listing(
    complete: bool, reread: set[str], skipped: int
) -> None:
    """Listed runs are left out; alerted ones are re-read, stalest first, only if complete."""
    stored = [run(f"wf-{i}") for i in (4, 1, 2, 3)]  # stalest first, as the store gives them
    plan = plan_rereads(stored, listed={"wf-1"}, alerted={"wf-2", "wf-4", "wf-1"},
                        listing_complete=complete)
    assert [r.id for r in plan.unlisted] == ["wf-4", "wf-2", "wf-3"]
    assert (plan.reread, plan.skipped) == (reread, skipped)


def test_stop_reason_names_the_policy_runtime_and_max() -> None:
    """A breached stop policy words the stop; without a maximum the decision's reason stays."""
    r = run(runtime=timedelta(hours=3))
    evaluation = evaluate_sla(r, resolve_sla(r, config(policies=[STOP_POLICY])), NOW)
    assert stop_reason(evaluation, "fallback") == (
        "SLA policy courier: runtime 3h 00m over max 2h 00m")
    assert stop_reason(None, "fallback") == "fallback"


@pytest.mark.parametrize(
    ("dry_run", "expected"),
    [(True, (StopResult.DRY_RUN, NOW, "would have stopped: slow")), (False, (None, None, None))],
)
def test_a_dry_run_note_is_final_at_once(dry_run: bool, expected: tuple[object, ...]) -> None:
    """A dry-run note is written finished; a real request is left in flight for the job."""
    ending = dry_run_ending(dry_run=dry_run, reason="slow", now=NOW)
    assert (ending.result, ending.finished_at, ending.detail) == expected


@dataclass(frozen=True)
class _Row:
    workflow_id: str
    run_key: str
    launched_as: str | None = None

    @property
    def dagster_run_key(self) -> str:
        return self.launched_as or self.run_key


def test_a_stop_is_lost_when_the_run_is_active_and_dagster_has_no_job() -> None:
    """Only a still-active run whose run key Dagster never saw is asked again."""
    rows = [_Row("wf-1", "stop:a:wf-1"), _Row("wf-2", "stop:a:wf-2"), _Row("wf-3", "stop:a:wf-3")]
    lost = lost_stops(rows, active={"wf-1", "wf-2"}, job_exists=lambda key: key.endswith("2"))
    assert lost == [rows[0]]


def test_a_batched_stop_is_lost_only_when_its_batch_never_became_a_run() -> None:
    """A stop handed to a batch is looked up under the batch's run key, not its own."""
    rows = [_Row("wf-1", "stop:a:wf-1", "stops:b1"), _Row("wf-2", "stop:a:wf-2", "stops:b2")]
    lost = lost_stops(rows, active={"wf-1", "wf-2"}, job_exists=lambda key: key == "stops:b1")
    assert lost == [rows[1]]


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_planned_stop_becomes_one_ledger_row_and_a_request_or_a_dry_run_line(
    dry_run: bool,
) -> None:
    """A real stop is recorded in flight and requested; a dry run is recorded final and told."""
    r = run("wf-9", runtime=timedelta(hours=3))
    evaluation = evaluate_sla(r, resolve_sla(r, config(policies=[STOP_POLICY])), NOW)
    request = StopRequest("acme", r.id, r.name, "stop:acme:wf-9", "breached", dry_run=dry_run)
    plan = TickPlan("acme", evaluations=[evaluation],
                    **{"dry_runs" if dry_run else "stop_requests": [request]})
    sensor = Requester.sensor("s")
    ledger = plan_stop_ledger(plan, now=NOW, requester=sensor)
    reason = "SLA policy courier: runtime 3h 00m over max 2h 00m"
    [row] = ledger.rows
    assert (row.run_key, row.requester, row.requested_by, row.reason, row.dry_run,
            row.state_before) == ("stop:acme:wf-9", sensor, "sensor s", reason, dry_run,
                                  r.state.raw)
    assert (row.result, row.finished_at) == ((StopResult.DRY_RUN, NOW) if dry_run else (None, None))
    if dry_run:
        assert ledger.stops == []
        assert ledger.dry_lines == [f"would have stopped {r.name} (wf-9) of acme: {reason}"]
    else:
        assert ledger.stops == [StopToRequest("acme", "wf-9", r.name, "stop:acme:wf-9", reason)]
        assert ledger.dry_lines == []


@pytest.mark.parametrize(
    ("complete", "skipped", "expected"),
    [(True, 0, None),
     (False, 0, "time budget spent while listing (5 running run(s) read); "
                "the rest evaluated as last stored, resolutions wait for the next tick"),
     (True, 2, "time budget spent: 2 alerted run(s) not re-read "
               "(evaluated as last stored; re-read first next tick)")],
)
def test_a_tenant_cut_short_says_what_was_left(
    complete: bool, skipped: int, expected: str | None
) -> None:
    """An incomplete listing or skipped re-reads are told; a full read says nothing."""
    assert cut_short_note(listing_complete=complete, running_read=5,
                          skipped_rereads=skipped) == expected
