"""Quiet hours and maintenance windows as pure functions of ``now``, DST nights included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from amperity_ops.core import AlertLevel
from amperity_ops.core.oncall import Silence
from amperity_ops.monitoring.dispatch import plan_outbox, stop_holds
from amperity_ops.monitoring.windows import active_maintenance, daily_occurrence, quiet_until
from amperity_ops.settings import DailyWindow, MaintenanceWindow, OpsConfig, QuietHours
from amperity_ops_tests.oncall.test_routing import SINKS, TENANTS, alert

BERLIN_NIGHT = DailyWindow(start="22:00", end="07:00", time_zone="Europe/Berlin")
SPRING = DailyWindow(start="02:30", end="03:30", time_zone="Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("window", "now", "span_utc"), [
    # Winter (CET, +1): 22:00-07:00 local is 21:00-06:00 UTC.
    (BERLIN_NIGHT, utc(2025, 1, 15, 21, 0), (utc(2025, 1, 15, 21), utc(2025, 1, 16, 6))),
    (BERLIN_NIGHT, utc(2025, 1, 16, 5, 59), (utc(2025, 1, 15, 21), utc(2025, 1, 16, 6))),
    (BERLIN_NIGHT, utc(2025, 1, 16, 6, 0), None),
    (BERLIN_NIGHT, utc(2025, 1, 15, 20, 59), None),
    # Spring forward (30 March 2025, 02:00 CET -> 03:00 CEST): the night is 8 h long in UTC.
    (BERLIN_NIGHT, utc(2025, 3, 30, 4, 59), (utc(2025, 3, 29, 21), utc(2025, 3, 30, 5))),
    (BERLIN_NIGHT, utc(2025, 3, 30, 5, 0), None),
    # Fall back (26 October 2025, 03:00 CEST -> 02:00 CET): the night is 10 h long.
    (BERLIN_NIGHT, utc(2025, 10, 26, 5, 30), (utc(2025, 10, 25, 20), utc(2025, 10, 26, 6))),
    # 02:30 does not exist on 30 March: read as 03:30 CEST (01:30 UTC), so the window is empty.
    (SPRING, utc(2025, 3, 30, 1, 30), None),
    (SPRING, utc(2025, 3, 31, 0, 45), (utc(2025, 3, 31, 0, 30), utc(2025, 3, 31, 1, 30))),
    # Only on the listed days (the day the window starts on, local).
    (DailyWindow(start="22:00", end="07:00", time_zone="UTC", days=["fri"]),
     utc(2025, 3, 29, 3, 0), (utc(2025, 3, 28, 22), utc(2025, 3, 29, 7))),
    (DailyWindow(start="22:00", end="07:00", time_zone="UTC", days=["fri"]),
     utc(2025, 3, 30, 3, 0), None),
])
def test_daily_window_occurrence(window: DailyWindow, now: datetime,
                                 span_utc: tuple[datetime, datetime] | None) -> None:
    """A daily window keeps its wall-clock hours in its own zone, across DST changes."""
    found = daily_occurrence(window, now)
    assert (None if found is None else tuple(t.astimezone(UTC) for t in found)) == span_utc


def test_back_to_back_quiet_hours_end_at_the_last_one() -> None:
    """Two windows that touch hold an alert until the end of the second."""
    first = QuietHours(start="22:00", end="02:00", time_zone="UTC")
    second = QuietHours(start="02:00", end="06:00", time_zone="UTC")
    assert quiet_until([first, second], utc(2025, 1, 1, 23)) == utc(2025, 1, 2, 6)
    assert quiet_until([first, second], utc(2025, 1, 2, 12)) is None


def cfg(**extra: Any) -> OpsConfig:
    return OpsConfig.model_validate({"alerts": SINKS, "tenants": TENANTS, **extra})


QUIET = {"quiet_hours": [{"sinks": ["slack", "pagerduty"], "start": "22:00", "end": "07:00",
                          "time_zone": "Europe/Berlin"}]}
NIGHT = utc(2025, 1, 15, 23, 0)  # 00:00 in Berlin
MORNING = utc(2025, 1, 16, 6, 0)  # 07:00 in Berlin


@pytest.mark.parametrize(("message", "paged", "due"), [
    (alert(level=AlertLevel.WARNING), False, MORNING),
    (alert(level=AlertLevel.BREACHED), False, NIGHT),
    (alert(level=AlertLevel.RESOLVED, kind="failure"), False, NIGHT),  # failed lets through
    (alert(level=AlertLevel.RESOLVED), False, MORNING),
    (alert(level=AlertLevel.RESOLVED), True, NIGHT),  # the page went out: close it now
])
def test_quiet_hours_hold_all_but_breaches(message: Any, paged: bool, due: datetime) -> None:
    """In quiet hours breaches (and failures) go now; the rest is due when they end."""
    entries = plan_outbox([message], config=cfg(**QUIET), all_sinks=["pagerduty", "slack", "log"],
                          paged={(message.dedup_key, "slack")} if paged else set(), now=NIGHT)
    by_sink = {e.sink: e.due_at for e in entries}
    assert by_sink["slack"] == due
    assert by_sink["log"] == NIGHT  # no quiet hours on the log sink


def test_a_rule_s_own_quiet_hours_apply_to_what_it_routes() -> None:
    """Quiet hours on a rule hold what that rule sends, not what other rules send."""
    config = cfg(alert_rules=[
        {"match": {"tenant": "prod"}, "sinks": ["slack"], "continue": True,
         "quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "Europe/Berlin"}},
        {"match": {"tenant": "prod"}, "sinks": ["log"]}])
    entries = plan_outbox([alert()], config=config, all_sinks=["pagerduty", "slack", "log"],
                          now=NIGHT)
    assert {(e.sink, e.due_at) for e in entries} == {("slack", MORNING), ("log", NIGHT)}


def silence(**kw: Any) -> Silence:
    values: dict[str, Any] = {"id": 1, "run_id": "wf-1", "workflow": None, "tenant": None,
                              "reason": "on it", "requested_by": "cli:ana",
                              "created_at": NIGHT - timedelta(hours=1),
                              "until": NIGHT + timedelta(hours=1)}
    return Silence(**(values | kw))


@pytest.mark.parametrize(("sil", "level", "status"), [
    (silence(), AlertLevel.BREACHED, "silenced"),
    (silence(), AlertLevel.RESOLVED, "pending"),  # the resolve always goes out
    (silence(until=NIGHT), AlertLevel.BREACHED, "pending"),  # expired on its own
    (silence(lifted_at=NIGHT - timedelta(minutes=5)), AlertLevel.BREACHED, "pending"),
    (silence(run_id=None, workflow="Courier*"), AlertLevel.WARNING, "silenced"),
    (silence(run_id=None, workflow="Nightly*"), AlertLevel.WARNING, "pending"),
    (silence(tenant="sandbox-1"), AlertLevel.WARNING, "pending"),
])
def test_silences_record_but_do_not_send(sil: Silence, level: AlertLevel, status: str) -> None:
    """An active silence covering the run records its alerts as silenced, never the resolve."""
    entries = plan_outbox([alert(level=level)], config=cfg(), all_sinks=["slack"],
                          silences=[sil], now=NIGHT)
    assert [e.status for e in entries] == [status]


@pytest.mark.parametrize(("window", "now", "held"), [
    ({"name": "upgrade", "tenant": "prod", "start": "2025-03-29T22:00",
      "end": "2025-03-30T04:00", "time_zone": "Europe/Berlin"}, utc(2025, 3, 29, 22),
     "maintenance window 'upgrade' until 04:00 Europe/Berlin"),
    ({"name": "upgrade", "tenant": "prod", "start": "2025-03-29T22:00",
      "end": "2025-03-30T04:00", "time_zone": "Europe/Berlin"}, utc(2025, 3, 30, 2), None),
    ({"name": "nightly", "workflow": "Courier*", "start": "01:00", "end": "03:00"},
     utc(2025, 3, 30, 2), "maintenance window 'nightly' until 03:00 UTC"),
    ({"name": "nightly", "workflow": "Nightly*", "start": "01:00", "end": "03:00"},
     utc(2025, 3, 30, 2), None),
    ({"name": "other", "tenant": "sandbox*", "start": "00:00", "end": "00:00"},
     utc(2025, 3, 30, 2), None),
])
def test_maintenance_windows_hold_stops(window: dict[str, Any], now: datetime,
                                        held: str | None) -> None:
    """A window for the tenant or workflow holds stops while it lasts and says until when."""
    windows = [MaintenanceWindow.model_validate(window)]
    holds = stop_holds(tenant="prod", runs=[("wf-1", "Courier Group A")], windows=windows,
                       silences=[], now=now)
    assert holds.get("wf-1") == held
    assert (active_maintenance(windows, tenant="prod", workflow_name="Courier Group A",
                               now=now) is not None) == (held is not None)


def test_a_silence_holds_stops_only_with_hold_stops() -> None:
    """Silencing never changes stops; ``hold_stops`` does, and the reason names who and why."""
    runs = [("wf-1", "Courier Group A")]
    assert stop_holds(tenant="prod", runs=runs, windows=[], silences=[silence()], now=NIGHT) == {}
    held = stop_holds(tenant="prod", runs=runs, windows=[],
                      silences=[silence(hold_stops=True)], now=NIGHT)
    assert held["wf-1"].startswith("stops held by cli:ana until 2025-01-16 00:00 UTC: on it")
