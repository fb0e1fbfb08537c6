"""Quiet hours and maintenance windows: pure, time-zone aware, with ``now`` as a parameter.

A daily window is read in its own time zone with the rules of the day it starts on, so
``22:00``-``07:00`` Europe/Berlin stays 22:00-07:00 on the wall clock across daylight-saving
changes (and is one hour shorter or longer in UTC those nights). A local time that does not
exist (02:30 on the spring-forward night) is read with the offset before the change, i.e. as
03:30 summer time; an ambiguous one (02:30 on the fall-back night) as its first occurrence.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from amperity_ops.settings import DailyWindow, MaintenanceWindow, QuietHours

__all__ = ["active_maintenance", "daily_occurrence", "maintenance_note", "quiet_until"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def daily_occurrence(window: DailyWindow, now: datetime) -> tuple[datetime, datetime] | None:
    """The occurrence of a daily window that contains ``now``, as aware (start, end), or None.

    ``end`` at or before ``start`` means the window runs past midnight into the next day.
    """
    zone = ZoneInfo(window.time_zone)
    today = now.astimezone(zone).date()
    for day in (today - timedelta(days=1), today):
        if window.days and _DAYS[day.weekday()] not in window.days:
            continue
        start = datetime.combine(day, window.start, tzinfo=zone)
        end_day = day if window.end > window.start else day + timedelta(days=1)
        end = datetime.combine(end_day, window.end, tzinfo=zone)
        if start.astimezone(UTC) <= now < end.astimezone(UTC):
            return start, end
    return None


def quiet_until(windows: Sequence[QuietHours], now: datetime) -> datetime | None:
    """When the quiet hours that hold at ``now`` end (following back-to-back windows), or None.

    Returns:
        The aware end time (UTC), or None when no window holds now.
    """
    at = now
    for _ in range(len(windows) + 1):  # each window can extend the quiet time at most once
        ends = [o[1].astimezone(UTC) for w in windows if (o := daily_occurrence(w, at))]
        if not ends:
            break
        at = max(ends)
    return None if at == now else at


def _window_now(window: MaintenanceWindow, now: datetime) -> datetime | None:
    """The end of ``window`` if it holds at ``now``."""
    once = window.once
    if once is not None:
        return once[1] if once[0] <= now < once[1] else None
    daily = window.daily
    occurrence = daily_occurrence(daily, now) if daily is not None else None
    return occurrence[1] if occurrence else None


def active_maintenance(
    windows: Sequence[MaintenanceWindow], *, tenant: str, workflow_name: str, now: datetime
) -> tuple[MaintenanceWindow, datetime] | None:
    """The first maintenance window holding now for this tenant and workflow, with its end."""
    for window in windows:
        if window.tenant and not any(fnmatch.fnmatchcase(tenant, g) for g in window.tenant):
            continue
        if window.workflow and not any(
            fnmatch.fnmatchcase(workflow_name, g) for g in window.workflow
        ):
            continue
        end = _window_now(window, now)
        if end is not None:
            return window, end
    return None


def maintenance_note(window: MaintenanceWindow, end: datetime) -> str:
    """``maintenance window 'upgrade' until 04:00 Europe/Berlin`` (the end in its own zone)."""
    local = end.astimezone(ZoneInfo(window.time_zone))
    return f"maintenance window {window.name!r} until {local:%H:%M} {window.time_zone}"
