"""SLA resolution precedence and evaluation, table-driven."""

from __future__ import annotations

from datetime import timedelta

import pytest

from amperity_ops.monitoring import SlaLevel, evaluate_sla, resolve_sla
from amperity_ops_tests.monitoring.helpers import NOW, STOP_POLICY, config, run

POLICIES = [
    {"name": "orchestrations", "match": {"name": "*", "type": "orchestration*"},
     "warn_after": "30m"},
    STOP_POLICY,
    {"name": "catch-courier", "match": {"name": "Courier*"}, "warn_after": "1d"},
    {"name": "limit-only", "match": {"name": "Nightly Limit"}, "max_runtime": "3h"},
]
BASELINE = {"enabled": True, "percentile": "p50", "factor": 2, "min_samples": 3}


@pytest.mark.parametrize(
    ("name", "type_", "warn_ms", "history", "expected"),
    [
        # explicit policy wins, first match wins, type glob respected
        ("Courier Group A", "courier.group/run", 60_000, [], ("policy:courier", 90 * 60, 7200)),
        ("Courier Group A", "orchestration/run", None, [], ("policy:orchestrations", 1800, None)),
        ("Courier Single", "courier.group/run", None, [], ("policy:catch-courier", 86400, None)),
        # a policy with only max_runtime borrows a shorter Amperity warn line
        ("Nightly Limit", "x/run", 3_600_000, [], ("policy:limit-only", 3600, 10800)),
        ("Nightly Limit", "x/run", 4 * 3_600_000, [], ("policy:limit-only", None, 10800)),
        # no policy: Amperity's warn_after_ms is the warning line
        ("Other", "x/run", 120_000, [600.0] * 5, ("amperity", 120, None)),
        # no policy, no warn_after_ms: learned baseline p50 x factor, given enough samples
        ("Other", "x/run", None, [100.0, 200.0, 300.0], ("baseline", 400, None)),
        ("Other", "x/run", None, [100.0, 200.0], None),
        ("Other", "x/run", None, [], None),
    ],
)
def test_resolve_sla_precedence(
    name: str, type_: str, warn_ms: int | None, history: list[float],
    expected: tuple[str, float | None, float | None] | None,
) -> None:
    """Explicit policy > Amperity warn_after_ms > learned baseline > nothing."""
    cfg = config(policies=POLICIES, baseline=BASELINE)
    rule = resolve_sla(run(name=name, type_=type_, warn_after_ms=warn_ms), cfg, history)
    if expected is None:
        assert rule is None
        return
    assert rule is not None
    label, warn_s, max_s = expected
    assert rule.label == label
    assert (rule.warn_after.total_seconds() if rule.warn_after else None) == warn_s
    assert (rule.max_runtime.total_seconds() if rule.max_runtime else None) == max_s


def test_baseline_disabled_gives_no_rule() -> None:
    """The learned baseline is opt-in: disabled, plenty of history still yields no rule."""
    rule = resolve_sla(run(name="Other", type_="x/run"), config(), [100.0] * 50)
    assert rule is None


@pytest.mark.parametrize(
    ("runtime", "level", "over_by"),
    [
        (timedelta(minutes=89), SlaLevel.OK, None),
        (timedelta(minutes=90), SlaLevel.OK, None),  # at the line is not over it
        (timedelta(minutes=91), SlaLevel.WARNING, timedelta(minutes=1)),
        (timedelta(hours=2), SlaLevel.WARNING, timedelta(minutes=30)),
        (timedelta(hours=2, minutes=5), SlaLevel.BREACHED, timedelta(minutes=5)),
    ],
)
def test_evaluate_sla_levels(runtime: timedelta, level: SlaLevel, over_by: timedelta) -> None:
    """A run is warning past warn_after, breached past max_runtime, with how far over."""
    r = run(runtime=runtime)
    evaluation = evaluate_sla(r, resolve_sla(r, config(policies=[STOP_POLICY])), NOW)
    assert evaluation.level is level
    assert evaluation.over_by == over_by
    assert evaluation.runtime == runtime


def test_evaluate_without_rule_is_ok() -> None:
    """No rule: a run is never late, however long it runs."""
    evaluation = evaluate_sla(run(runtime=timedelta(days=3)), None, NOW)
    assert evaluation.level is SlaLevel.OK
