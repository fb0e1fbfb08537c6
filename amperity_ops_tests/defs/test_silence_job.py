"""The silence job from the Launchpad, and who silenced what on the workflow_runs asset."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from dagster import AssetKey, materialize

from amperity_ops.defs.assets import workflow_runs
from amperity_ops.defs.silence_job import silence_amperity_alerts
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.simulator import Simulator
from amperity_ops_tests.services.helpers import TENANT


def _run(runtime: OpsRuntime, **config: Any) -> Any:
    return silence_amperity_alerts.execute_in_process(
        run_config={"ops": {"silence_alerts": {"config": config}}},
        resources={"amperity_ops": runtime}, raise_on_error=False,
    )


def test_launchpad_silence_is_recorded_and_shown_on_the_asset(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """The job records the silence; the asset's metadata names who, what, until and why."""
    run = quiet_sim.tenant(TENANT).add_run(name="Courier Group A", started_ago=timedelta(hours=1))
    result = _run(runtime, requested_by="ana@example.com", reason="rerun after fix",
                  duration="90m", run_id=run.id, hold_stops=True)
    assert result.success
    (silence,) = runtime.store.active_silences(runtime.clock())
    assert (silence.run_id, silence.requested_by, silence.hold_stops) == (
        run.id, "ana@example.com", True)
    assert silence.until - silence.created_at == timedelta(minutes=90)
    done = materialize([workflow_runs], resources={"amperity_ops": runtime})
    [event] = [e for e in done.get_asset_materialization_events()
               if e.asset_key == AssetKey(["amperity", "workflow_runs"])]
    line = event.materialization.metadata["silences"].value
    assert f"run {run.id}: silenced by ana@example.com until" in line
    assert line.endswith("rerun after fix (stops held)")


@pytest.mark.parametrize(("config", "sentence"), [
    ({"requested_by": "ana", "reason": "x"},
     "Refused: give a run id or a workflow glob (exactly one of them)."),
    ({"requested_by": "ana", "reason": " ", "workflow": "Courier*"},
     "Refused: a reason is required (who is handling it, and why)."),
    ({"requested_by": "", "reason": "x", "workflow": "Courier*"},
     "Refused: requested_by is required (your name or e-mail)."),
    ({"requested_by": "ana", "reason": "x", "workflow": "C*", "duration": "30d"},
     "Refused: a silence lasts at most 7d; silence again when it ends."),
    ({"requested_by": "ana", "reason": "x", "workflow": "C*", "tenant": "nope"},
     "Refused: tenant: no tenant named 'nope' (known: acme)."),
])
def test_bad_silence_requests_are_refused_in_one_sentence(
    runtime: OpsRuntime, config: dict[str, Any], sentence: str
) -> None:
    """A bad request ends the run with one plain sentence and records nothing."""
    result = _run(runtime, **config)
    assert not result.success
    [event] = result.get_step_failure_events()
    assert event.step_failure_data.user_failure_data.description == sentence
    assert runtime.store.active_silences(runtime.clock()) == []
