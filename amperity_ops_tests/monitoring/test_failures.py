"""Failure alerts as a pure decision: which ended runs get one, once, with error and attribution."""

from __future__ import annotations

from datetime import timedelta

import pytest

from amperity_ops.client.models import WorkflowError, WorkflowRun
from amperity_ops.core import AlertLevel
from amperity_ops.monitoring import AlertTrack, plan_sla_tick
from amperity_ops.monitoring.failures import (
    failed_alert_message,
    failure_alerts,
    failure_candidates,
)
from amperity_ops.monitoring.routing import route_alert
from amperity_ops.settings import OpsConfig
from amperity_ops_tests.monitoring.helpers import NOW, STOP_POLICY, config, run

PLATFORM = WorkflowError(type="TaskFailed", message="Spark executor lost",
                         attribution="platform")


def ended(run_id: str, state: str = "failed", *, ago: timedelta = timedelta(minutes=1),
          error: WorkflowError | None = PLATFORM) -> WorkflowRun:
    """A run that ended ``ago`` before NOW in ``state``, with ``error``."""
    base = run(run_id, state=state, runtime=timedelta(minutes=20), ended=True)
    return base.model_copy(update={"ended_at": NOW - ago, "error": error})


TRACK = AlertTrack(level=AlertLevel.WARNING, last_sent=AlertLevel.WARNING,
                   workflow_name="Courier Group Nightly")


@pytest.mark.parametrize(
    ("runs", "tracked", "expected"),
    [
        ([ended("wf-1")], (), ["wf-1"]),
        ([ended("wf-1", "succeeded"), ended("wf-2", "stopped")], (), []),
        ([run("wf-1")], (), []),  # still running
        ([ended("wf-1")], ("wf-1",), []),  # alerted as late: its resolve says it failed
        ([ended("wf-1", ago=timedelta(hours=2))], (), []),  # old news after a pause
        ([ended("wf-1", ago=timedelta(minutes=59)), ended("wf-2")], (), ["wf-1", "wf-2"]),
    ],
    ids=["failed", "not-failed", "running", "tracked", "too-old", "two"],
)
def test_failure_candidates(runs: list[WorkflowRun], tracked: tuple[str, ...],
                            expected: list[str]) -> None:
    """Only runs that ended failed within the hour and were never alerted as late qualify."""
    assert [r.id for r in failure_candidates(runs, tracked=tracked, now=NOW)] == expected


@pytest.mark.parametrize(
    ("already", "expected"),
    [((), ["wf-1", "wf-2"]), (("amperity-ops:acme:wf-1",), ["wf-2"]),
     (("amperity-ops:acme:wf-1", "amperity-ops:acme:wf-2"), [])],
    ids=["none-yet", "one-sent", "both-sent"],
)
def test_failure_alerts_once_per_dedup_key(already: tuple[str, ...],
                                           expected: list[str]) -> None:
    """A dedup key already in the outbox (seen by the overlapping listing) gets no second one."""
    alerts = failure_alerts("acme", [ended("wf-1"), ended("wf-2")], already_alerted=already,
                            now=NOW, link_for=lambda i: None)
    assert [a.workflow_id for a in alerts] == expected
    assert {a.level for a in alerts} <= {AlertLevel.FAILED}


@pytest.mark.parametrize(
    ("error", "title", "attribution"),
    [
        (PLATFORM, "FAILED: Courier Group Nightly (platform): TaskFailed: Spark executor lost",
         "platform"),
        (WorkflowError(type="BadInput", message="orders.csv: 3 columns missing",
                       attribution="customer"),
         "FAILED: Courier Group Nightly (customer): BadInput: orders.csv: 3 columns missing",
         "customer"),
        (None, "FAILED: Courier Group Nightly: no error detail sent", None),
    ],
    ids=["platform", "customer", "no-error"],
)
def test_failed_message_says_the_error_and_whose_it_is(
        error: WorkflowError | None, title: str, attribution: str | None) -> None:
    """Title and text carry the error and its attribution; kind failure, level failed."""
    message = failed_alert_message("acme", ended("wf-7", error=error), now=NOW,
                                   link="https://acme.amperity.test/#/workflows/wf-7")
    assert message.title == title
    assert (message.kind, message.level, message.attribution) == (
        "failure", AlertLevel.FAILED, attribution)
    assert f"Attribution: {attribution or 'not given'}" in message.text
    assert "Open in Amperity: https://acme.amperity.test/#/workflows/wf-7" in message.text
    assert message.dedup_key == "amperity-ops:acme:wf-7"
    assert message.runtime_s == pytest.approx(19 * 60)


def tick(cfg: OpsConfig, runs: list[WorkflowRun], **kwargs: object) -> list[tuple[str, str]]:
    """(level, run id) of the alerts one tick plans."""
    plan = plan_sla_tick(tenant="acme", runs=runs, tracks=kwargs.pop("tracks", {}),  # type: ignore[arg-type]
                         config=cfg, now=NOW, **kwargs)  # type: ignore[arg-type]
    return [(a.level.value, a.workflow_id) for a in plan.alerts]


def test_tick_alerts_a_failure_once_and_never_beside_a_late_runs_resolve() -> None:
    """The tick sends FAILED for an unalerted failure, RESOLVED (kind failure) for a late one."""
    cfg = config(policies=[STOP_POLICY])
    assert tick(cfg, [ended("wf-1")]) == [("failed", "wf-1")]
    assert tick(cfg, [ended("wf-1")], failures_alerted={"amperity-ops:acme:wf-1"}) == []
    assert tick(cfg, [ended("wf-2")], tracks={"wf-2": TRACK}) == [("resolved", "wf-2")]
    assert tick(cfg, [ended("wf-3", "succeeded")]) == []


def test_alert_on_failed_runs_false_turns_them_off() -> None:
    """``alert_on_failed_runs: false``: a failed run that was never late alerts nobody."""
    assert OpsConfig.model_fields["alert_on_failed_runs"].default is True
    assert tick(config(alert_on_failed_runs=False), [ended("wf-1")]) == []


def test_tick_summary_counts_failed_alerts() -> None:
    """The tick's summary says a failure was alerted and names the run with its attribution."""
    plan = plan_sla_tick(tenant="acme", runs=[ended("wf-1")], tracks={}, config=config(),
                         now=NOW)
    assert "alerts: 1 failed" in plan.summary
    assert plan.run_lines == ["FAILED Courier Group Nightly wf-1 (platform)"]


@pytest.mark.parametrize(
    ("attribution", "sinks"),
    [("platform", ["platform-team"]), ("customer", ["customer-team"]), (None, ["chat"])],
)
def test_failures_route_by_attribution(attribution: str | None, sinks: list[str]) -> None:
    """Rules with kind failure and attribution send each failure to its team's sink."""
    cfg = config(
        alerts=[{"kind": "slack", "name": "platform-team", "webhook_url": "https://h.test/p"},
                {"kind": "slack", "name": "customer-team", "webhook_url": "https://h.test/c"},
                {"kind": "slack", "name": "chat", "webhook_url": "https://h.test/x"}],
        alert_rules=[
            {"match": {"kind": "failure", "attribution": "platform"}, "sinks": ["platform-team"]},
            {"match": {"level": "failed", "attribution": "customer"}, "sinks": ["customer-team"]},
        ],
        default_sinks=["chat"])
    error = WorkflowError(type="E", message="m", attribution=attribution) if attribution else None
    message = failed_alert_message("acme", ended("wf-1", error=error), now=NOW)
    routes = route_alert(message, rules=cfg.alert_rules, all_sinks=["platform-team",
                                                                     "customer-team", "chat"],
                         default_sinks=cfg.default_sinks)
    assert [r.sink for r in routes] == sinks
