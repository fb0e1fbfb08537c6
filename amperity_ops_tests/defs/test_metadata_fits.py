"""The asset page's first metadata rows fit: short ids in tables, errors and details in lines."""

from __future__ import annotations

from datetime import timedelta

import pytest

from amperity_ops.defs.checks import check_results_metadata, runs_check_results
from amperity_ops.defs.metadata import INLINE_MARKDOWN_CHARS, runs_metadata, short_run_link
from amperity_ops.services.summary import FailureRow, RunsSummary
from amperity_ops_tests.defs.test_metadata import LINK, NOW, active, stop, summary, values

RUN_ID = "wf-20261203-62720-iuvGdX"


@pytest.mark.parametrize(
    ("workflow_id", "link", "expected"),
    [
        (RUN_ID, f"{LINK}{RUN_ID}", f'[…\u206062720\u2011iuvGdX]({LINK}{RUN_ID} "{RUN_ID}")'),
        (RUN_ID, None, "`…\u206062720\u2011iuvGdX`"),
        ("wf-1", f"{LINK}wf-1", f"[wf-1]({LINK}wf-1)"),
        ("odd-shaped-id", None, "`odd-shaped-id`"),
    ],
)
def test_short_run_link(workflow_id: str, link: str | None, expected: str) -> None:
    """A long id shows its distinguishing tail (hyphen unbreakable); link and title keep it."""
    assert short_run_link(workflow_id, link) == expected


def failure(i: int, error_type: str = "amperity.workflow.task.ingest/schema") -> FailureRow:
    """A failed run ``i`` with a long, unbreakable error type, as Amperity sends them."""
    run_id = f"wf-20261203-{60000 + i}-abcdef"
    return FailureRow(tenant="acme", workflow_id=run_id, name=f"Nightly Load {i}",
                      ended_at=NOW - timedelta(minutes=i), error_type=error_type,
                      attribution="customer", message="Field 'order_total' could not be parsed",
                      link=f"{LINK}{run_id}")


def with_failures(n: int) -> RunsSummary:
    """A one-tenant summary with ``n`` failures."""
    base = summary()
    base.failures = [failure(i) for i in range(n)]
    return base


def test_long_ids_never_reach_the_inline_tables() -> None:
    """active_runs, recent_stops and failures show only tails; the details keep full ids."""
    rows = summary(active(RUN_ID), stops=(stop(RUN_ID),))
    rows.failures = [failure(1)]
    meta = values(runs_metadata(rows, polled={}, errors={}))
    for key in ("active_runs", "recent_stops", "failures"):
        cells = [c for line in meta[key].splitlines() for c in line.split(" | ")]
        assert not [c for c in cells if c.startswith(("[wf-", "`wf-"))], key
    assert f"[{RUN_ID}]({LINK}{RUN_ID}):" in meta["active_runs_details"]
    assert f"[{RUN_ID}]({LINK}{RUN_ID}):" in meta["recent_stops_details"]


def test_failures_table_is_narrow_and_the_errors_are_lines_below() -> None:
    """The failures table has no error column; each error is a line in failures_details."""
    meta = values(runs_metadata(with_failures(2), polled={}, errors={}))
    assert meta["failures"].splitlines()[0] == "| run | name | ended | attribution |"
    assert "amperity.workflow.task" not in meta["failures"]
    assert meta["failures_details"].splitlines()[0] == (
        f'- […\u206060000\u2011abcdef]({LINK}wf-20261203-60000-abcdef "wf-20261203-60000-abcdef") '
        "Nightly Load 0: amperity.workflow.task.ingest/schema: Field 'order_total' could "
        "not be parsed")
    assert "failures_all" not in meta


def test_many_failures_keep_inline_entries_short_and_the_rest_in_failures_all() -> None:
    """Forty failures: table head and details stay under 1,000 characters; all in _all."""
    meta = values(runs_metadata(with_failures(40), polled={}, errors={}))
    assert len(meta["failures"]) <= INLINE_MARKDOWN_CHARS
    assert len(meta["failures_details"]) <= INLINE_MARKDOWN_CHARS
    assert meta["failures_details"].endswith("more: see `failures_all`_")
    everything = meta["failures_all"]
    assert everything.splitlines()[0] == "| run | name | ended | attribution | error |"
    assert all(f"wf-20261203-{60000 + i}-abcdef" in everything for i in range(40))


def test_no_failures_no_details() -> None:
    """Without failures: the empty note, and no details or _all entries."""
    meta = values(runs_metadata(summary(), polled={}, errors={}))
    assert meta["failures"] == "_no failed runs in the last 24h_"
    for key in ("failures_details", "failures_all", "active_runs_details",
                "recent_stops_details"):
        assert key not in meta


def test_check_results_are_wrapping_text_not_an_indented_json_block() -> None:
    """The recorded verdicts are one line of compact JSON (text wraps; a JSON value does not)."""
    value = check_results_metadata(runs_check_results(summary(active()), errors={}))
    assert value.value.startswith('[{"check_name": "runs_within_sla", "passed": false')
    assert "\n" not in value.value


def test_many_stops_keep_their_details_inline_and_all_of_them_in_details_all() -> None:
    """Ten stops: recent_stops_details stays under 1,000 characters (so it renders inline)
    and points to recent_stops_details_all, which has every stop."""
    stops = tuple(stop(f"wf-20261203-{70000 + i}-abcdef") for i in range(10))
    meta = values(runs_metadata(summary(stops=stops), polled={}, errors={}))
    head = meta["recent_stops_details"]
    assert len(head) <= INLINE_MARKDOWN_CHARS
    assert head.endswith("more: see `recent_stops_details_all`_")
    assert all(f"wf-20261203-{70000 + i}-abcdef" in meta["recent_stops_details_all"]
               for i in range(10))
    one = values(runs_metadata(summary(stops=stops[:1]), polled={}, errors={}))
    assert "recent_stops_details_all" not in one
