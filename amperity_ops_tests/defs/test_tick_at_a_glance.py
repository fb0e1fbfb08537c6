"""The UI at a glance: a tick that alerted says so first and logs breaches at WARNING; ingest
health is one line; long markdown tables keep an inline head."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from dagster import SensorResult, build_sensor_context

from amperity_ops.defs.metadata import INLINE_MARKDOWN_CHARS, inline_split, unhealthy_feeds_line
from amperity_ops.defs.sensors import amperity_workflow_sla_sensor
from amperity_ops.monitoring.tick_report import SlaTickResult, TenantTick
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.summary import FeedRow, IngestSummary
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops_tests.services.helpers import TENANT, make_config, make_runtime

NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def test_a_tick_that_only_warned_says_so_first(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """No RunRequest, one warning alert: the skip reason starts with the counts by level."""
    runtime = make_runtime(quiet_sim, clock, store_url, make_config(
        policies=[{"name": "late", "warn_after": "10m", "max_runtime": "5h"}]))
    quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(minutes=30))
    with build_sensor_context(resources={"amperity_ops": runtime}) as context:
        result = amperity_workflow_sla_sensor(context)
    assert isinstance(result, SensorResult)
    assert not result.run_requests
    text = result.skip_reason.skip_message if result.skip_reason else ""
    assert text.startswith("ALERTED: 1 warning | acme: looked at 1 active run(s)")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_breaching_tick_logs_at_warning(runtime: OpsRuntime, quiet_sim: Simulator) -> None:
    """The breach (and the ALERTED headline) reach the sensor's log at WARNING or above."""
    quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    collect = _Collect()
    with build_sensor_context(resources={"amperity_ops": runtime}) as context:
        context.log.addHandler(collect)  # the tick's log, as the daemon stores it
        amperity_workflow_sla_sensor(context)
    loud = [r.getMessage() for r in collect.records if r.levelno >= logging.WARNING]
    assert any("ALERTED: 1 breached" in m for m in loud), loud
    assert any("BREACHED Courier Group A" in m for m in loud), loud


def test_headline_orders_levels_and_log_records_mark_breaches() -> None:
    """Most severe first; a tick with no alerts has no headline and INFO lines only."""
    tick = TenantTick(tenant="acme", plan_summary="acme: looked at 3", plan_headline="acme: x")
    tick.alert_levels.update({"warning": 2, "resolved": 1, "breached": 1})
    tick.run_lines = ["BREACHED A wf-1 29m > 10m (policy:p) -> alert"]
    result = SlaTickResult(started_at=NOW, tenants=[tick])
    assert result.headline() == "ALERTED: 1 breached, 2 warning, 1 resolved"
    levels = {line: level for level, line in result.log_records()}
    assert levels["acme: BREACHED A wf-1 29m > 10m (policy:p) -> alert"] == logging.WARNING
    assert levels["acme: x [0 requests]"] == logging.INFO
    assert SlaTickResult(started_at=NOW, tenants=[TenantTick(tenant="acme")]).headline() is None


def _feed(table: str, problems: tuple[str, ...] = (), error_rate: float = 0.0) -> FeedRow:
    return FeedRow(tenant="acme", job_id="isj-1", workflow_id=None, table=table,
                   state="succeeded", read=1000, errors=0, rejected=0, error_rate=error_rate,
                   reject_rate=0.0, problems=problems)


def test_ingest_health_names_the_unhealthy_feeds_in_one_line() -> None:
    """Failed feeds first, then the worst rate, each table once with what is wrong in short;
    all healthy and empty windows say so."""
    summary = IngestSummary(generated_at=NOW, jobs=2, feeds=[
        _feed("Orders", ("Orders: 2.00% errors > 1.00% (20 of 1,000 rows)",), 0.02),
        _feed("Stores"), _feed("POS", ("POS: feed failed",)),
        _feed("Orders", ("Orders: 1.10% errors > 1.00% (11 of 1,000 rows)",), 0.011)])
    assert unhealthy_feeds_line(summary) == (
        "3 unhealthy of 4: POS (failed), Orders (2.00% errors)")
    assert unhealthy_feeds_line(IngestSummary(generated_at=NOW, jobs=1,
                                              feeds=[_feed("Stores")])) == "all 1 feed healthy"
    assert unhealthy_feeds_line(IngestSummary(generated_at=NOW)) == "no ingest feeds in the window"


def test_a_long_table_keeps_an_inline_head_and_the_whole_table_apart() -> None:
    """Over 999 characters: the first rows inline with a note, the whole under `<key>_all`."""
    rows = "\n".join(f"| wf-{i} | {'x' * 40} |" for i in range(60))
    table = f"| run | error |\n|---|---|\n{rows}"
    parts = inline_split("failures", table)
    head = parts["failures"].value
    assert len(head) <= INLINE_MARKDOWN_CHARS
    assert head.startswith("| run | error |\n|---|---|\n| wf-0 |")
    assert head.endswith("more: see `failures_all`_")
    assert parts["failures_all"].value == table
    assert list(inline_split("failures", "| a |\n|---|\n| 1 |")) == ["failures"]
