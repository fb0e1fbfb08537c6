"""The workflow_runs materialization over the simulator: our stops and a short summary on it."""

from __future__ import annotations

from datetime import timedelta

from dagster import AssetKey, materialize

from amperity_ops.defs.assets import workflow_runs
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops.store import NewStop
from amperity_ops_tests.services.helpers import TENANT

RUNS = AssetKey(["amperity", "workflow_runs"])


def test_materialization_shows_the_stops_we_made_and_names_late_runs(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """recent_stops lists the ledger's stop with link and result; attention names the breach."""
    world = quiet_sim.tenant(TENANT)
    late = world.add_run(name="Courier Group Late", started_ago=timedelta(hours=3))
    gone = world.add_run(name="Courier Group Gone", state="stopped",
                         started_ago=timedelta(hours=3), ended_ago=timedelta(minutes=5))
    now = runtime.clock()
    [stop_id] = runtime.store.record_stops([NewStop(
        run_key=f"stop:{TENANT}:{gone.id}", tenant=TENANT, workflow_id=gone.id,
        workflow_name=gone.name, requested_by="sensor amperity_workflow_sla_sensor",
        reason="SLA policy courier-groups: runtime 2h 55m over max 2h 00m", dry_run=False,
        requested_at=now - timedelta(minutes=6), state_before="running")])
    runtime.store.finish_stop(stop_id, result="stopped", state_after="stopped",
                              finished_at=now - timedelta(minutes=5))
    result = materialize([workflow_runs], resources={"amperity_ops": runtime})
    assert result.success
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == RUNS]
    meta = {k: v.value for k, v in event.materialization.metadata.items()}
    assert next(iter(meta)) == "attention"
    assert meta["attention"].startswith(
        f"BREACHED 1: Courier Group Late +1h 00m (…{late.id[-6:]})")
    stops = meta["recent_stops"]
    # wf-<date>-<tail>: the tail tells runs apart (shown with a non-breaking hyphen)
    tail = "\u2060" + gone.id.split("-", 2)[2].replace("-", "\u2011")
    assert (f"[…{tail}](https://acme.amperity.example/#/workflows/{gone.id} \"{gone.id}\")"
            in stops)
    details = meta["recent_stops_details"]
    assert f"[{gone.id}](https://acme.amperity.example/#/workflows/{gone.id})" in details
    assert "requested by sensor amperity_workflow_sla_sensor: SLA policy courier-groups" in details
    assert "| stopped |" in stops
    assert "stopped (running -> stopped)" in details
    assert meta["stops_requested"] == 1
    assert " UTC, " in meta["polled"]
    assert "| tenant |" not in meta["active_runs"].splitlines()[0]
