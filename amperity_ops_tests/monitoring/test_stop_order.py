"""The stop job's decisions, step by step, as tables: the order of checks and their wording."""

from __future__ import annotations

import pytest

from amperity_ops.client import WorkflowRun
from amperity_ops.core import StopResult
from amperity_ops.monitoring.stop_order import (
    ledger_row_for,
    verdict_after_conflict,
    verdict_on_first_read,
    verdict_on_missing_run,
    verdict_on_vanishing,
    verdict_while_waiting,
)
from amperity_ops_tests.monitoring.helpers import run

LABEL = "wf-1 (Courier Group Nightly)"


@pytest.mark.parametrize(
    ("known", "result", "message"),
    [
        (None, StopResult.NOT_FOUND,
         "wf-1 does not exist in tenant acme (404): check the id; nothing was stopped"),
        (run(), StopResult.VANISHED,
         "wf-1 (Courier Group Nightly) was last seen running but answers 404 now: it vanished; "
         "nothing was stopped"),
    ],
)
def test_a_404_on_the_first_read(
    known: WorkflowRun | None, result: StopResult, message: str
) -> None:
    """A 404 first is not_found unless the store knew the run, then it vanished."""
    verdict = verdict_on_missing_run("acme", "wf-1", known)
    assert (verdict.result, verdict.message) == (result, message)


@pytest.mark.parametrize(
    ("state", "dry_run", "result", "message"),
    [
        ("Mystery", True, StopResult.UNKNOWN_STATE,
         f"{LABEL} is in state 'Mystery', which is not recognised: not stopped (nothing "
         "destructive is done on an unknown state)"),
        ("succeeded", True, StopResult.NOT_RUNNING,
         f"{LABEL} already ended (succeeded): nothing to stop"),
        ("stopping", False, StopResult.NOT_RUNNING,
         f"{LABEL} is stopping, not running: nothing to stop"),
        ("running", True, StopResult.DRY_RUN, f"dry run: would stop {LABEL}, which is running"),
        ("running", False, None, ""),
    ],
)
def test_first_read_checks_unknown_then_stoppable_then_dry_run(
    state: str, dry_run: bool, result: StopResult | None, message: str
) -> None:
    """Unknown state wins over dry run, not stoppable too; only a running run is sent a stop."""
    verdict = verdict_on_first_read(run(state=state), dry_run=dry_run)
    assert (verdict.result, verdict.message) == (result, message)


def test_a_409_is_explained_only_by_a_run_that_ended() -> None:
    """After a 409 an ended run is not_running; a still-running one re-raises (None)."""
    ended = verdict_after_conflict(run(), run(state="succeeded", ended=True))
    assert ended is not None
    assert (ended.result, ended.message) == (
        StopResult.NOT_RUNNING, f"{LABEL} ended before the stop took effect (now succeeded)")
    assert verdict_after_conflict(run(), run()) is None


@pytest.mark.parametrize(
    ("stop_answered", "message"),
    [(False, f"{LABEL} vanished (404) while being stopped"),
     (True, f"{LABEL} vanished (404) while stopping")],
)
def test_vanishing_is_worded_by_when(stop_answered: bool, message: str) -> None:
    """A 404 on the stop itself and one on a later re-read read differently."""
    verdict = verdict_on_vanishing(run(), stop_answered=stop_answered)
    assert (verdict.result, verdict.message) == (StopResult.VANISHED, message)


@pytest.mark.parametrize(
    ("state", "now", "result"),
    [("stopped", 100.0, StopResult.STOPPED),  # terminal wins, even past the deadline
     ("stopping", 100.0, StopResult.STILL_STOPPING),
     ("stopping", 10.0, None)],
)
def test_waiting_ends_on_terminal_before_the_deadline_is_looked_at(
    state: str, now: float, result: StopResult | None
) -> None:
    """A terminal state ends the wait; otherwise the deadline; otherwise keep waiting."""
    verdict = verdict_while_waiting(run(), run(state=state), now=now, deadline=60.0,
                                    timeout_s=60.0)
    assert (verdict.result if verdict else None) == result
    if result is StopResult.STILL_STOPPING:
        assert verdict is not None
        assert verdict.message == f"stop sent to {LABEL}, but it is still stopping after 60 s"


@pytest.mark.parametrize(
    ("result", "dry_run", "row"),
    [(StopResult.NOT_FOUND, False, "pending"), (StopResult.NOT_FOUND, True, "none"),
     (StopResult.VANISHED, False, "open"), (StopResult.DRY_RUN, True, "open"),
     (StopResult.STOPPED, False, "open")],
)
def test_which_ledger_row_an_ending_is_written_to(
    result: StopResult, dry_run: bool, row: str
) -> None:
    """An id never found adds no row; it only finishes a pending one (never in dry run)."""
    assert ledger_row_for(result, dry_run=dry_run) == row
