"""Simulated times are marked on the pages the demo shows: audit events, workflow and table
assets (metadata and descriptions), silences; real clocks add no mark."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from dagster import AssetKey, materialize

from amperity_ops.client.models import WorkflowRun
from amperity_ops.core.oncall import Silence
from amperity_ops.defs.asset_graph import run_metadata
from amperity_ops.defs.assets import audit_events
from amperity_ops.defs.metadata import silences_metadata
from amperity_ops.defs.translator import AmperityTableProps, AmperityTranslator
from amperity_ops.monitoring.catalog import CatalogTable
from amperity_ops.monitoring.sla import evaluate_sla
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops_tests.services.helpers import TENANT

NOW = datetime(2026, 11, 1, 15, 20, tzinfo=UTC)


class MarkedClock:
    """The manual clock dressed as the demo's simulator clock (a mark, a name, a label)."""

    mark = " (sim)"
    name = "simulator clock"

    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock

    def __call__(self) -> datetime:
        return self._clock.now()

    def label(self, now: datetime) -> str:
        """What the ``clock`` entry says."""
        return f"simulator clock; times marked (sim) are simulated (sim now {now:%H:%MZ})"


def audit_metadata(runtime: OpsRuntime, sim: Simulator, clock: ManualClock) -> dict[str, object]:
    """Materialize audit_events after a stop (which leaves an event) and return its metadata."""
    world = sim.tenant(TENANT)
    world.stop_run(world.add_run(name="Courier Group A").id)
    clock.advance(timedelta(seconds=1))
    result = materialize([audit_events], resources={"amperity_ops": runtime})
    [event] = [e for e in result.get_asset_materialization_events()
               if e.asset_key == AssetKey(["amperity", "audit_events"])]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_audit_events_mark_their_times_on_a_simulated_clock(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """The `at` column reads `at (sim)` and a clock entry says whose times they are."""
    meta = audit_metadata(replace(runtime, clock=MarkedClock(clock)), quiet_sim, clock)
    assert str(meta["latest"]).splitlines()[0] == "| tenant | at (sim) | type | who | object |"
    assert str(meta["clock"]).startswith("simulator clock; times marked (sim)")


def test_audit_events_on_real_time_have_no_mark(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """A plain clock: no mark in the header, no clock entry."""
    meta = audit_metadata(runtime, quiet_sim, clock)
    assert str(meta["latest"]).splitlines()[0] == "| tenant | at | type | who | object |"
    assert "clock" not in meta


@pytest.mark.parametrize("mark", [" (sim)", ""])
def test_workflow_and_table_asset_times_carry_the_mark(mark: str) -> None:
    """Run start and end in asset metadata, and the table description's last load, are
    followed by the mark (nothing on real time)."""
    run = WorkflowRun(id="wf-1", state="succeeded", type="courier.group/run",  # type: ignore[arg-type]
                      name="Nightly", tenant="acme", created_at=NOW - timedelta(minutes=30),
                      ended_at=NOW)
    meta = run_metadata(evaluate_sla(run, None, NOW), None, time_mark=mark)
    assert meta["started_at"] == f"2026-11-01T14:50:00+00:00{mark}"
    assert meta["ended_at"] == f"2026-11-01T15:20:00+00:00{mark}"
    table = CatalogTable(name="Orders", loaded_by=[], last_loaded_at=NOW, last_job_id="isj-1")
    spec = AmperityTranslator().get_table_spec(AmperityTableProps(
        tenant="acme", table=table, loaded_by=(), catalog_refreshed_at=NOW, time_mark=mark))
    assert f"2026-11-01 15:20 UTC{mark} (ingest job isj-1)" in (spec.description or "")


@pytest.mark.parametrize("mark", [" (sim)", ""])
def test_silences_line_marks_its_until_time(mark: str) -> None:
    """`silences` on the asset says until when with the clock's mark."""
    silence = Silence(id=3, tenant=None, run_id=None, workflow="Courier*",
                      until=NOW + timedelta(hours=2), reason="ana is on it",
                      requested_by="cli:ana", created_at=NOW)
    meta = silences_metadata([silence], NOW, mark)
    assert f"until 2026-11-01 17:20 UTC{mark}: ana is on it" in meta["silences"].value
