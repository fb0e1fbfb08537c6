"""The workflow-runs metadata as a person reads it: SLA cell, short times, stops, one tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from amperity_ops.core import StopResult
from amperity_ops.defs.checks import runs_check_results
from amperity_ops.defs.metadata import (
    attention_text,
    fmt_duration,
    ingest_metadata,
    runs_metadata,
    short_time,
    sla_cell,
)
from amperity_ops.services.summary import (
    ActiveRunRow,
    FeedRow,
    IngestSummary,
    RunsSummary,
    StopRow,
)

NOW = datetime(2026, 11, 22, 19, 50, tzinfo=UTC)
LINK = "https://acme.amperity.test/#/workflows/"


def active(
    run_id: str = "wf-1",
    *,
    name: str = "Daily Ecommerce Sources",
    runtime: timedelta = timedelta(minutes=25, seconds=34),
    level: str = "breached",
    source: str | None = "policy:ecommerce-sources",
    warn: timedelta | None = timedelta(minutes=5),
    limit: timedelta | None = timedelta(minutes=10),
    action: str | None = "stop",
    tenant: str = "acme",
    link: bool = True,
) -> ActiveRunRow:
    """An active-run row started ``runtime`` before NOW."""
    return ActiveRunRow(
        tenant=tenant, workflow_id=run_id, name=name, type="x", state="running",
        started_at=NOW - runtime, runtime=runtime, level=level, sla_source=source,
        warn_after=warn, max_runtime=limit, link=f"{LINK}{run_id}" if link else None,
        action=action,
    )


def stop(run_id: str = "wf-1", *, dry_run: bool = False, result: str | None = "stopped",
         tenant: str = "acme",
         requested_by: str = "sensor amperity_workflow_sla_sensor") -> StopRow:
    """A stop-ledger row requested ten minutes before NOW."""
    return StopRow(
        tenant=tenant, workflow_id=run_id, name="Daily Ecommerce Sources",
        requested_by=requested_by,
        reason="SLA policy ecommerce-sources: runtime 29m 29s over max 10m 00s",
        dry_run=dry_run, requested_at=NOW - timedelta(minutes=10),
        result=StopResult(result) if result else None,
        state_before="running", state_after="stopped" if result == "stopped" else None,
        finished_at=NOW if result else None, link=f"{LINK}{run_id}",
    )


def summary(*rows: ActiveRunRow, stops: tuple[StopRow, ...] = (),
            tenants: tuple[str, ...] = ("acme",)) -> RunsSummary:
    """A summary of the given rows over 24 h."""
    return RunsSummary(generated_at=NOW, window=timedelta(hours=24), active=list(rows),
                       stops=list(stops), tenants=list(tenants))


def values(meta: dict[str, Any]) -> dict[str, Any]:
    """The plain values of Dagster metadata."""
    return {k: v.value for k, v in meta.items()}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(hours=24), "24h"),
        (timedelta(hours=36, minutes=30), "36h 30m"),
        (timedelta(hours=2, minutes=5), "2h 05m"),
        (timedelta(minutes=12, seconds=30), "12m 30s"),
        (timedelta(seconds=45), "45s"),
        (None, "-"),
    ],
)
def test_fmt_duration(value: timedelta | None, expected: str) -> None:
    """A day reads as 24h (not '1d 00h'); shorter durations keep two units."""
    assert fmt_duration(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 11, 22, 19, 48, tzinfo=UTC), "19:48Z"),
        (datetime(2026, 11, 21, 19, 48, tzinfo=UTC), "11-21 19:48Z"),
        (None, "-"),
    ],
)
def test_short_time(value: datetime | None, expected: str) -> None:
    """Times of today show as HH:MMZ, others with the month and day; never a full date."""
    assert short_time(value, NOW) == expected


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (active(), "BREACHED +15m 34s (max 10m, stop)"),
        (active(level="warning", runtime=timedelta(minutes=6, seconds=2)),
         "WARNING +1m 02s (max 10m, stop)"),
        (active(level="ok", runtime=timedelta(minutes=2), action="alert"), "ok (warn 5m)"),
        (active(level="warning", source="amperity", limit=None, action="alert",
                runtime=timedelta(minutes=7)), "WARNING +2m 00s (warn 5m, amperity)"),
        (active(level="ok", source=None, warn=None, limit=None, action=None), "-"),
    ],
)
def test_sla_cell(row: ActiveRunRow, expected: str) -> None:
    """The SLA cell says the verdict, by how much, and the line it is measured against."""
    assert sla_cell(row) == expected


def test_attention_names_late_runs_and_is_bounded() -> None:
    """The top-level line names breached then warning runs, at most five each, then +N more."""
    rows = [active(f"wf-{i}", runtime=timedelta(minutes=20 + i)) for i in range(7)]
    rows.append(active("wf-w", name="Nightly", level="warning",
                       runtime=timedelta(minutes=6)))
    text = attention_text(summary(*rows))
    assert text.startswith("BREACHED 7: Daily Ecommerce Sources +16m 00s (wf-6)")
    assert ", +2 more. WARNING 1: Nightly +1m 00s (wf-w)" in text
    assert attention_text(summary(active(level="ok"))) == "all 1 active run within SLA"
    assert attention_text(summary(active(level="ok"), active("wf-2", level="ok"))) == (
        "all 2 active runs within SLA")


def test_attention_shortens_long_ids_after_the_name_and_overrun() -> None:
    """A real run id is cut to its tail, after the name and how far over (cut off last)."""
    text = attention_text(summary(active("wf-20240619-14418-6UhqSe")))
    assert text == "BREACHED 1: Daily Ecommerce Sources +15m 34s (…6UhqSe)"


def test_attention_after_a_stop_names_it_instead_of_all_is_well() -> None:
    """No active runs right after our stop: 'no active runs' plus the stop, not 'all 0'."""
    assert attention_text(summary()) == "no active runs"
    text = attention_text(summary(stops=(stop("wf-1"), stop("wf-2", result="not_running"),
                                         stop("wf-3", dry_run=True))))
    assert text == ("no active runs; amperity-ops stopped 1 in the last 24h "
                    "(latest: Daily Ecommerce Sources, 19:40Z)")


def test_active_runs_table_has_the_sla_cell_links_and_no_tenant_column_for_one_tenant() -> None:
    """One tenant: no tenant column; the run id links to Amperity; warn/max merged in SLA;
    state, start and rule in the details below the (narrow) table."""
    meta = values(runs_metadata(summary(active()), polled={}, errors={}))
    table = meta["active_runs"]
    assert table.splitlines()[0] == "| SLA | run | name | runtime |"
    assert "| BREACHED +15m 34s (max 10m, stop) | [wf-1](" + LINK + "wf-1) |" in table
    assert meta["active_runs_details"] == (
        f"- [wf-1]({LINK}wf-1): Daily Ecommerce Sources, running, started 19:24Z, "
        "runtime 25m 34s, rule policy:ecommerce-sources")
    assert meta["attention"].startswith("BREACHED 1: Daily Ecommerce Sources +15m 34s (wf-1)")
    two = values(runs_metadata(summary(active(), tenants=("acme", "beta")), polled={},
                               errors={}))
    assert "| tenant |" in two["active_runs"].splitlines()[0]


def test_recent_stops_table_and_dry_run_notes_apart() -> None:
    """Our stops are listed with who, why, result and states; dry-run notes separately."""
    meta = values(runs_metadata(
        summary(stops=(stop("wf-1"), stop("wf-2", result=None), stop("wf-3", dry_run=True))),
        polled={}, errors={}))
    stops = meta["recent_stops"]
    assert stops.splitlines()[0] == "| run | name | result | when |"
    assert f"| [wf-1]({LINK}wf-1) | Daily Ecommerce Sources | stopped | 19:40Z |" in stops
    details = meta["recent_stops_details"]
    assert (f"- [wf-1]({LINK}wf-1): Daily Ecommerce Sources, stopped (running -> stopped) at "
            "19:40Z, requested by sensor amperity_workflow_sla_sensor: SLA policy "
            "ecommerce-sources: runtime 29m 29s over max 10m 00s") in details
    assert "in flight (running -> ?)" in details
    assert "wf-3" not in stops
    assert "wf-3" not in details
    assert meta["stops_requested"] == 2
    assert "not** stopped" in meta["dry_run_notes"]
    assert "wf-3" in meta["dry_run_notes"]
    quiet = values(runs_metadata(summary(), polled={}, errors={}))
    assert quiet["recent_stops"] == "_amperity-ops stopped no runs in the last 24h_"
    assert "dry_run_notes" not in quiet


def test_recent_stops_leave_out_requests_that_found_nothing_to_stop() -> None:
    """A stop asked for a finished (or unknown) run sent nothing: not listed, not counted."""
    meta = values(runs_metadata(
        summary(stops=(stop("wf-1"), stop("wf-8", result="not_running"),
                       stop("wf-9", result="not_found"))),
        polled={}, errors={}))
    assert "wf-1" in meta["recent_stops"]
    assert "wf-8" not in meta["recent_stops"]
    assert "wf-9" not in meta["recent_stops"]
    assert meta["stops_requested"] == 1


def test_dry_run_notes_say_whose_dry_run_it_was() -> None:
    """A person's dry run is labelled with who ran it, never as auto_stop.dry_run's doing."""
    meta = values(runs_metadata(
        summary(stops=(stop("wf-3", dry_run=True, requested_by="cli:root"),
                       stop("wf-4", dry_run=True))),
        polled={}, errors={}))
    notes = meta["dry_run_notes"]
    assert "| run | name | dry run | would have stopped because | when |" in notes
    person = next(line for line in notes.splitlines() if "wf-3" in line)
    assert "| dry run by cli:root |" in person
    assert "auto_stop" not in person
    sensor = next(line for line in notes.splitlines() if "wf-4" in line)
    assert ("| held back by auto_stop.dry_run (sensor amperity_workflow_sla_sensor) |"
            in sensor)


def test_breached_runs_check_links_each_run() -> None:
    """The check's breached_runs table links the run id when the tenant has app_url."""
    results = runs_check_results(summary(active(), active("wf-2", link=False)), errors={})
    check = next(r for r in results if r.check_name == "runs_within_sla")
    table = check.metadata["breached_runs"].value
    assert f"[wf-1]({LINK}wf-1)" in table
    assert "`wf-2`" in table
    assert "BREACHED +15m 34s (max 10m, stop)" in table
    failed = next(r for r in results if r.check_name == "no_failed_runs_in_window")
    assert failed.description == "no failed runs in the last 24h"


def test_feed_table_links_the_job_when_the_tenant_has_app_url() -> None:
    """The ingest feed table links each job to its workflow run in Amperity, when known."""
    def feed(job_id: str, link: str | None) -> FeedRow:
        return FeedRow(tenant="acme", job_id=job_id, workflow_id="wf-1", table="orders",
                       state="succeeded", read=1000, errors=0, rejected=0, error_rate=0.0,
                       reject_rate=0.0, problems=(), link=link)

    meta = values(ingest_metadata(
        IngestSummary(generated_at=NOW, jobs=2,
                      feeds=[feed("isj-1", f"{LINK}wf-1"), feed("isj-2", None)]),
        polled={}, errors={}))
    assert f"[isj-1]({LINK}wf-1)" in meta["feed_table"]
    assert "`isj-2`" in meta["feed_table"]


def test_simulated_times_get_a_clock_entry_and_sim_headers() -> None:
    """With a clock label, a `clock` entry says so; with its mark every time column reads it."""
    note = "simulator clock, 10x faster than real time; times marked (sim) are simulated"
    meta = values(runs_metadata(
        summary(active(), stops=(stop("wf-1"), stop("wf-3", dry_run=True))),
        polled={}, errors={}, clock=note, time_mark=" (sim)"))
    assert meta["clock"] == note
    quiet = values(runs_metadata(summary(stops=(stop("wf-1"),)), polled={}, errors={},
                                 clock=note, time_mark=" (sim)"))
    assert quiet["attention"].endswith("(latest: Daily Ecommerce Sources, 19:40Z (sim))")
    assert "started 19:24Z (sim)," in meta["active_runs_details"]
    assert meta["recent_stops"].splitlines()[0].endswith("| when (sim) |")
    assert "| when (sim) |" in meta["dry_run_notes"]
    real = values(runs_metadata(summary(active()), polled={}, errors={}))
    assert "clock" not in real
    assert "(sim)" not in real["active_runs"]
    assert "(sim)" not in real["active_runs_details"]
    ingest = values(ingest_metadata(IngestSummary(generated_at=NOW), polled={}, errors={},
                                    clock=note))
    assert ingest["clock"] == note


def test_feed_table_has_thousands_separators_and_no_tenant_column_for_one_tenant() -> None:
    """Row counts read 48,129 as in the alerts; one tenant polled means no tenant column."""
    feed = FeedRow(tenant="acme", job_id="isj-1", workflow_id=None, table="POS_Stores",
                   state="succeeded", read=48129, errors=1612, rejected=0,
                   error_rate=1612 / 48129, reject_rate=0.0, problems=())
    one = values(ingest_metadata(IngestSummary(generated_at=NOW, jobs=1, feeds=[feed]),
                                 polled={"acme": "1 jobs read"}, errors={}))
    header, _, row = one["feed_table"].splitlines()
    assert "tenant" not in header
    assert "| 48,129 | 1,612 | 0 | 3.35 |" in row
    two = values(ingest_metadata(IngestSummary(generated_at=NOW, jobs=1, feeds=[feed]),
                                 polled={"acme": "1 jobs read"}, errors={"beta": "down"}))
    assert "| tenant |" in two["feed_table"].splitlines()[0]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ((), "0 active runs within SLA (0 past their warning line)"),
        ((active(level="ok"),), "1 active run within SLA (0 past its warning line)"),
        ((active(level="warning"), active("wf-2", level="ok")),
         "2 active runs within SLA (1 past their warning line)"),
        ((active(),), "1 run over max runtime: Daily Ecommerce Sources (wf-1) 25m 34s > 10m 00s"),
    ],
)
def test_runs_within_sla_check_text_agrees_in_number(
    rows: tuple[ActiveRunRow, ...], expected: str
) -> None:
    """The check's description says '1 active run', '2 active runs', '1 run over'."""
    results = runs_check_results(summary(*rows), errors={})
    check = next(r for r in results if r.check_name == "runs_within_sla")
    assert check.description == expected
