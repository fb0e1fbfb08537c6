"""Odd records are shown to people and counted: the tick, its alerts, the runs metadata."""

from __future__ import annotations

from datetime import timedelta

from amperity_ops.defs.metadata import runs_metadata
from amperity_ops.services.poll import poll_workflow_runs
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.sla_guard import run_sla_tick
from amperity_ops.services.summary import summarize_runs
from amperity_ops.simulator import Faults, ManualClock, Simulator
from amperity_ops_tests.services.helpers import STOP_POLICY, TENANT, make_config, make_runtime

BY_TYPE = {**STOP_POLICY, "match": {"type": "courier.group/run"}}


def _runtime(sim: Simulator, clock: ManualClock, store_url: str) -> OpsRuntime:
    return make_runtime(sim, clock, store_url, make_config(policies=[BY_TYPE]))


def test_start_unknown_is_neither_alerted_nor_stopped_but_listed(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """A queued run with created_at null: no alert, no stop, 'start unknown' in the summary."""
    quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    quiet_sim.set_faults(TENANT, Faults(odd_records=1, odd_kind="null_created_at"))
    runtime = _runtime(quiet_sim, clock, store_url)
    result = run_sla_tick(runtime, now=clock.now(), budget_s=30, deliver=False)
    assert result.stop_requests == []
    assert list(runtime.store.outbox_items()) == []
    assert "1 with start unknown (no SLA, never stopped)" in result.summary()


def test_an_odd_breached_run_is_alerted_with_a_data_line(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """Wrong types in a breached run: still alerted and stopped, the alert says what was odd."""
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    quiet_sim.set_faults(TENANT, Faults(odd_records=1, odd_kind="wrong_types"))
    runtime = _runtime(quiet_sim, clock, store_url)
    result = run_sla_tick(runtime, now=clock.now(), budget_s=30, deliver=False)
    assert [s.workflow_id for s in result.stop_requests] == [run.id]
    [item] = runtime.store.outbox_items()
    facts = dict(item.message.facts)
    assert "warn_after_ms missing" in facts["Data"], facts
    assert "name unreadable" in facts["Data"]
    assert "Data: " in item.message.text


def test_workflow_runs_metadata_lists_odd_records(
    quiet_sim: Simulator, clock: ManualClock, store_url: str
) -> None:
    """The poll counts odd records and the metadata shows a table naming what is missing."""
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=1))
    quiet_sim.set_faults(TENANT, Faults(odd_records=1, odd_kind="missing_created_at"))
    runtime = _runtime(quiet_sim, clock, store_url)
    with runtime.client(TENANT) as client:
        report = poll_workflow_runs(client, runtime.store, tenant=TENANT, now=clock.now())
    assert [r.id for r in report.odd] == [run.id]
    assert "1 odd record(s)" in report.summary()
    summary = summarize_runs(runtime.store, runtime.config, runtime.tenants, now=clock.now())
    metadata = runs_metadata(summary, polled={TENANT: report.summary()}, errors={},
                             odd={TENANT: report.odd})
    assert metadata["odd_records"].value == 1
    table = metadata["odd_records_table"].value
    assert run.id in table
    assert "start unknown" in table
    assert "created_at missing" in table
