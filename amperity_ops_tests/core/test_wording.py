"""Runtime against SLA, worded once: the table and terminal cells, the sentence, the reasons."""

from __future__ import annotations

from datetime import timedelta

import pytest

from amperity_ops.core import wording
from amperity_ops.core.durations import hours_duration

M = timedelta(minutes=1)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("level", "runtime", "warn", "limit", "action", "source", "table", "terminal"),
    [("breached", 12 * M, 5 * M, 10 * M, "stop", "policy:x",
      "BREACHED +2m 00s (max 10m, stop)", "breached +2m (max 10m, stop)"),
     ("warning", 7 * M + S, 5 * M, None, "alert", "amperity",
      "WARNING +2m 01s (warn 5m, amperity)", "warning +2m 01s (warn 5m, amperity)"),
     ("ok", 2 * M, 5 * M, 10 * M, "alert", "policy:x", "ok (warn 5m)", "ok (warn 5m)"),
     ("ok", 2 * M, None, 10 * M, "alert", "baseline", "ok (max 10m, baseline)",
      "ok (max 10m, baseline)")],
)
def test_the_table_and_terminal_cells_say_the_same_in_their_own_case_and_units(
    level: str, runtime: timedelta, warn: timedelta | None, limit: timedelta | None,
    action: str, source: str, table: str, terminal: str,
) -> None:
    """Both SLA cells come from one function: same limits, only the case and units differ."""
    kw = {"warn_after": warn, "max_runtime": limit, "action": action, "source": source}
    assert str(wording.sla_cell(level, runtime, **kw)) == table  # type: ignore[arg-type]
    assert str(wording.sla_cell(level, runtime, terminal=True, **kw)) == terminal  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("level", "runtime", "warn", "limit", "source", "expected"),
    [("breached", 29 * M, None, 10 * M, "policy x", "runtime 29m, 19m over max 10m; policy x"),
     ("warning", 7 * M, 5 * M, 10 * M, "amperity",
      "runtime 7m, 2m past its warning line, 3m before max 10m; amperity"),
     ("warning", 7 * M, 5 * M, None, "amperity", "runtime 7m, 2m past its warning line; amperity"),
     ("ok", 2 * M, 5 * M, 10 * M, "policy x",
      "runtime 2m, within SLA (warn 5m, max 10m); policy x"),
     ("ok", 2 * M, None, None, None, "runtime 2m, no SLA applies")],
)
def test_runtime_against_sla_reads_as_one_sentence(
    level: str, runtime: timedelta, warn: timedelta | None, limit: timedelta | None,
    source: str | None, expected: str,
) -> None:
    """The sentence says how far over, past the warning line, or within the SLA."""
    assert wording.runtime_against(runtime, level, warn_after=warn, max_runtime=limit,
                                   source=source) == expected


def test_late_runs_are_worded_the_same_in_titles_reasons_and_log_lines() -> None:
    """Alert titles, stop reasons, planned stops and log lines quote runtime and limit."""
    assert wording.late_title("breached", "Nightly", 130 * M, 120 * M, 10 * M) == (
        "BREACHED: Nightly has run 2h 10m, over its max runtime 2h 00m by 10m 00s")
    assert wording.late_title("warning", "Nightly", 70 * M, 60 * M, 10 * M) == (
        "WARNING: Nightly has run 1h 10m, past its warning line 1h 00m by 10m 00s")
    assert wording.sla_stop_reason("courier", 180 * M, 120 * M) == (
        "SLA policy courier: runtime 3h 00m over max 2h 00m")
    assert wording.ran_over_max("N (wf-1)", 180 * M, 120 * M, "policy:courier") == (
        "N (wf-1) has run 3h 00m, over max_runtime 2h 00m of policy:courier")
    assert wording.past_limit(29 * M + 29 * S, 10 * M) == "29m29s > 10m"
    assert wording.past_limit(29 * M, 10 * M, hours_duration) == "29m 00s > 10m 00s"
    assert wording.overshoot(29 * M, 10 * M) == "19m over"
    assert wording.over_by(15 * M + 34 * S) == "+15m 34s"
    assert wording.stop_at_max(10 * M, dry_run=True) == "dry run: would stop at max runtime 10m"
    assert wording.md_cell("a|b\nc") == "a\\|b c"
