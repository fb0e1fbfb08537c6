"""Stop guard rails, table-driven: every condition that must hold before a stop."""

from __future__ import annotations

from datetime import timedelta

import pytest

from amperity_ops.core import Requester
from amperity_ops.monitoring import (
    OurStop,
    decide_stop,
    ended_reason,
    evaluate_sla,
    resolve_sla,
    stop_run_key,
)
from amperity_ops.settings import AutoStopConfig
from amperity_ops_tests.monitoring.helpers import NOW, STOP_POLICY, config, run

SENSOR = Requester.sensor("amperity_workflow_sla_sensor")
ALERT_ONLY = {**STOP_POLICY, "action": "alert"}
ON = AutoStopConfig(enabled=True, max_stops_per_hour=2)


@pytest.mark.parametrize(
    ("policy", "state", "runtime_h", "auto_stop", "stops", "requested", "kind", "says"),
    [
        (STOP_POLICY, "running", 3, ON, 0, False, "request", "over max_runtime 2h"),
        (STOP_POLICY, "Running with failures", 3, ON, 0, False, "request", "policy:courier"),
        (STOP_POLICY, "paused", 3, ON, 1, False, "request", ""),
        (STOP_POLICY, "running", 1.9, ON, 0, False, "none", "no stop policy breached"),
        (ALERT_ONLY, "running", 3, ON, 0, False, "none", "no stop policy breached"),
        (STOP_POLICY, "running", 3, ON, 0, True, "none", "already requested"),
        (STOP_POLICY, "running", 3, ON, 2, False, "held", "hourly cap reached (2/2"),
        (STOP_POLICY, "running", 3, AutoStopConfig(), 0, False, "held", "auto_stop is disabled"),
        (STOP_POLICY, "running", 3, AutoStopConfig(enabled=True, dry_run=True), 0, False,
         "dry_run", "would have stopped Courier Group Nightly"),
        (STOP_POLICY, "Quantum Tunneling", 3, ON, 0, False, "held", "not a stoppable state"),
        (STOP_POLICY, "finalizing", 3, ON, 0, False, "held", "not a stoppable state"),
        (STOP_POLICY, "stopping", 3, ON, 0, False, "held", "not a stoppable state"),
    ],
)
def test_decide_stop(
    policy: dict[str, str], state: str, runtime_h: float, auto_stop: AutoStopConfig,
    stops: int, requested: bool, kind: str, says: str,
) -> None:
    """A stop is requested only for a breached stop policy, enabled, under the cap, new,
    in a recognised running state; dry run only reports."""
    r = run(state=state, runtime=timedelta(hours=runtime_h))
    evaluation = evaluate_sla(r, resolve_sla(r, config(policies=[policy])), NOW)
    decision = decide_stop(evaluation, auto_stop, stops_in_last_hour=stops,
                           already_requested=requested)
    assert decision.kind == kind
    assert says in decision.reason


def test_dry_run_note_blocks_only_another_note() -> None:
    """A dry-run note stops the sensor repeating it, but never holds back a real stop."""
    r = run(state="running", runtime=timedelta(hours=3))
    evaluation = evaluate_sla(r, resolve_sla(r, config(policies=[STOP_POLICY])), NOW)
    dry = AutoStopConfig(enabled=True, dry_run=True)
    again = decide_stop(evaluation, dry, stops_in_last_hour=0, already_requested=False,
                        already_noted_dry_run=True)
    assert (again.kind, again.reason) == ("none", f"dry run: {r.id} was already reported")
    real = decide_stop(evaluation, ON, stops_in_last_hour=0, already_requested=False,
                       already_noted_dry_run=True)
    assert real.kind == "request"


def test_run_key_format() -> None:
    """The stop job's run key is stop:<tenant>:<workflow id>."""
    assert stop_run_key("acme", "wf-20240619-14418-6UhqSe") == "stop:acme:wf-20240619-14418-6UhqSe"


@pytest.mark.parametrize(
    ("policy", "state", "runtime_h", "auto_stop", "stops", "requested", "action"),
    [
        (STOP_POLICY, "running", 3, ON, 0, False, "stop requested"),
        (STOP_POLICY, "running", 3, ON, 2, False, "stop held back: hourly cap (2/h)"),
        (STOP_POLICY, "running", 3, AutoStopConfig(enabled=True, dry_run=True), 0, False,
         "stop held back: dry run"),
        (STOP_POLICY, "running", 3, AutoStopConfig(), 0, False, "alert only (auto_stop disabled)"),
        (STOP_POLICY, "running", 3, ON, 0, True, "stop already requested"),
        (STOP_POLICY, "finalizing", 3, ON, 0, False,
         "stop held back: state 'finalizing' is not stoppable"),
        (STOP_POLICY, "running", 1.9, ON, 0, False, "stop at max runtime 2h"),
        (STOP_POLICY, "running", 1.9, AutoStopConfig(enabled=True, dry_run=True), 0, False,
         "dry run: would stop at max runtime 2h"),
        (ALERT_ONLY, "running", 3, ON, 0, False, "alert only"),
    ],
)
def test_decide_stop_action_says_what_happened(
    policy: dict[str, str], state: str, runtime_h: float, auto_stop: AutoStopConfig,
    stops: int, requested: bool, action: str,
) -> None:
    """The action line an alert shows says what was done, never "if auto-stop is enabled"."""
    r = run(state=state, runtime=timedelta(hours=runtime_h))
    evaluation = evaluate_sla(r, resolve_sla(r, config(policies=[policy])), NOW)
    decision = decide_stop(evaluation, auto_stop, stops_in_last_hour=stops,
                           already_requested=requested)
    assert decision.action == action


@pytest.mark.parametrize(
    ("state", "our_stop", "expected"),
    [
        ("stopped", OurStop(SENSOR, "SLA policy courier: runtime 3h 00m over max 2h 00m",
                            policy="courier"),
         "stopped by amperity-ops (sensor, SLA policy courier, 1h over)"),
        ("stopped", OurStop(Requester.person("cli alice"), "stuck on a lock"),
         "stopped by amperity-ops (cli alice, reason: stuck on a lock, 1h over)"),
        ("stopped", None, "ended: stopped"),
        ("succeeded", OurStop(SENSOR, "SLA policy courier: x", policy="courier"),
         "ended: succeeded"),
        ("failed", None, "ended: failed"),
    ],
)
def test_ended_reason(state: str, our_stop: OurStop | None, expected: str) -> None:
    """RESOLVED names amperity-ops only when our ledger has the stop and the run did stop."""
    r = run(state=state, runtime=timedelta(hours=3), ended=True)
    evaluation = evaluate_sla(r, resolve_sla(r, config(policies=[STOP_POLICY])), NOW)
    assert ended_reason(evaluation, our_stop) == expected
