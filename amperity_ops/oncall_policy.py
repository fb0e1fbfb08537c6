"""The on-call sections of the policy file: alert rules, quiet hours, maintenance windows, digest.

::

    alert_rules:
      - name: prod-pages
        match: {tenant: prod, level: [breached, failed]}
        sinks: [pagerduty]
        continue: true              # also try the next rules (default: first match wins)
      - match: {tenant: "sandbox*"}
        sinks: [slack]
    default_sinks: [slack]          # unmatched alerts (default: every sink, as without rules)
    quiet_hours:
      - {sinks: [slack], start: "22:00", end: "07:00", time_zone: Europe/Berlin}
    maintenance_windows:
      - {name: upgrade, tenant: prod, start: "2025-03-29T22:00", end: "2025-03-30T04:00",
         time_zone: Europe/Berlin}
    digest: {at: "08:00", time_zone: Europe/Berlin, sinks: [slack]}

Only models and their checks live here (``settings`` re-exports them and adds the fields to
``OpsConfig``); the decisions that use them are pure functions in
:mod:`amperity_ops.monitoring.routing` and :mod:`amperity_ops.monitoring.windows`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from datetime import datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "ROUTE_KINDS",
    "ROUTE_LEVELS",
    "AlertRule",
    "AlertRuleMatch",
    "DailyWindow",
    "DigestConfig",
    "MaintenanceWindow",
    "QuietHours",
    "SinkQuietHours",
    "check_sink_references",
]

ROUTE_LEVELS = ("warning", "breached", "failed", "resolved", "ingest")
"""Levels a rule can match. ``failed`` is the closing message of a run that ended failed."""
ROUTE_KINDS = ("sla", "failure", "ingest")
"""Kinds a rule can match: a run's runtime, a run that ended failed, an ingest job."""

RouteLevel = Literal["warning", "breached", "failed", "resolved", "ingest"]
RouteKind = Literal["sla", "failure", "ingest"]
_URGENT: tuple[RouteLevel, ...] = ("breached", "failed")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _listed(value: Any) -> Any:
    """``tenant: prod`` reads as ``tenant: [prod]``: one value or a list, both are fine."""
    return [value] if isinstance(value, str) else value


Globs = Annotated[list[str] | None, BeforeValidator(_listed)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin' or 'UTC'"
        ) from None
    return value


TimeZone = Annotated[str, BeforeValidator(lambda v: _zone(str(v)))]


def _clock_time(value: Any) -> Any:
    if isinstance(value, int):  # YAML 1.1 reads 22:00 unquoted as 1320 (base 60)
        return time(value // 60 % 24, value % 60)
    if isinstance(value, str) and not re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        raise ValueError(f"{value!r} is not a time of day; write it as \"HH:MM\", e.g. \"22:00\"")
    return value


ClockTime = Annotated[time, BeforeValidator(_clock_time)]


class AlertRuleMatch(_Strict):
    """What an alert must be for a rule to apply. Every field given must match; each takes one
    value or a list (any of them). ``tenant``, ``workflow`` and ``workflow_type`` are globs."""

    tenant: Globs = None
    workflow: Globs = None
    """Glob on the workflow's name, e.g. ``"Courier Group*"``."""
    workflow_type: Globs = None
    attribution: Annotated[list[Literal["customer", "platform"]] | None,
                           BeforeValidator(_listed)] = None
    """Amperity's attribution of a failed run's error."""
    level: Annotated[list[RouteLevel] | None, BeforeValidator(_listed)] = None
    kind: Annotated[list[RouteKind] | None, BeforeValidator(_listed)] = None


class DailyWindow(_Strict):
    """A window of local time that recurs every day (or on the listed ``days``).

    ``end`` before ``start`` spans midnight (``22:00``-``07:00``); the day is the one the window
    starts on. Local times are read in ``time_zone`` with the rules of that day, so a window
    keeps its wall-clock hours across daylight-saving changes.
    """

    start: ClockTime
    end: ClockTime
    time_zone: TimeZone = "UTC"
    days: Annotated[list[Day] | None, BeforeValidator(_listed)] = None
    """Days on which the window starts (``mon`` ... ``sun``); None: every day."""


class QuietHours(DailyWindow):
    """Hours in which only some levels page; the rest wait for the end, then go out once."""

    let_through: Annotated[list[RouteLevel], BeforeValidator(_listed)] = Field(
        default_factory=lambda: list(_URGENT)
    )
    """Levels sent at once even in quiet hours (a resolve of a page that went out is sent
    too, so no incident stays open all night)."""


class SinkQuietHours(QuietHours):
    """Quiet hours of the named sinks (every alert they receive)."""

    sinks: Annotated[list[str], BeforeValidator(_listed)]


class AlertRule(_Strict):
    """Send alerts that match to these sinks."""

    name: str | None = None
    """Shown in the outbox and in tests; default ``alert_rules[i]``."""
    match: AlertRuleMatch = Field(default_factory=AlertRuleMatch)
    sinks: Annotated[list[str], BeforeValidator(_listed)]
    """Sink names (``alerts[].name``, else the kind); an empty list drops what matches."""
    continue_: bool = Field(default=False, alias="continue")
    """False (default): the first matching rule decides. True: keep looking, and send to the
    sinks of every further match too."""
    quiet_hours: QuietHours | None = None
    """Quiet hours for what this rule sends."""


def _as_text(value: Any) -> str:
    if isinstance(value, int):  # YAML 1.1 reads 02:00 unquoted as 120 (base 60)
        return f"{value // 60 % 24:02d}:{value % 60:02d}"
    return str(value)


def _moment(value: str, zone: str, field: str) -> datetime | time:
    text = value.strip()
    if re.fullmatch(r"\d{1,2}:\d{2}", text):
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{field}: {value!r} is neither a time of day (\"02:00\", daily) nor a date and time "
            "(\"2025-03-29T22:00\", once)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))


class MaintenanceWindow(_Strict):
    """While it lasts, no stop is requested for matching runs, and their alerts say why.

    ``start``/``end`` are either dates and times (once: ``"2025-03-29T22:00"``, read in
    ``time_zone`` unless they carry an offset) or times of day (daily, like quiet hours).
    """

    name: str
    tenant: Globs = None
    """Globs on the tenant's name; None: every tenant."""
    workflow: Globs = None
    """Globs on the workflow's name; None: every workflow of the tenant."""
    time_zone: TimeZone = "UTC"
    start: Annotated[str, BeforeValidator(_as_text)]
    end: Annotated[str, BeforeValidator(_as_text)]
    days: Annotated[list[Day] | None, BeforeValidator(_listed)] = None

    @field_validator("end")
    @classmethod
    def _same_form(cls, end: str, info: Any) -> str:
        start = info.data.get("start")
        zone = info.data.get("time_zone", "UTC")
        if start is None:
            return end
        first, last = _moment(start, zone, "start"), _moment(end, zone, "end")
        if type(first) is not type(last):
            raise ValueError("start and end must both be times of day or both dates and times")
        if isinstance(first, datetime) and isinstance(last, datetime) and last <= first:
            raise ValueError("end must be after start")
        return end

    @property
    def once(self) -> tuple[datetime, datetime] | None:
        """(start, end) of a one-off window (aware), or None for a daily one."""
        first, last = _moment(self.start, self.time_zone, "start"), _moment(
            self.end, self.time_zone, "end")
        if isinstance(first, datetime) and isinstance(last, datetime):
            return first, last
        return None

    @property
    def daily(self) -> DailyWindow | None:
        """The window as a :class:`DailyWindow`, or None for a one-off window."""
        if self.once is not None:
            return None
        return DailyWindow(start=self.start, end=self.end, time_zone=self.time_zone,
                           days=self.days)


class DigestConfig(_Strict):
    """One message a day with what ran late, failed, was stopped or silenced (last 24 h)."""

    at: ClockTime = time(8, 0)
    """Local time of day at which it is sent (by the first SLA sensor tick after it)."""
    time_zone: TimeZone = "UTC"
    sinks: Annotated[list[str], BeforeValidator(_listed)]
    """Where it goes (a chat, an email or a log sink; not PagerDuty, which opens incidents)."""


def _unknown(path: str, name: str, known: Sequence[str]) -> PydanticCustomError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(known)})"
    return PydanticCustomError(
        "unknown_sink", "{at}: unknown sink '{name}'{hint}",
        {"at": path, "name": name, "hint": hint},
    )


def check_sink_references(
    *,
    known: Sequence[str],
    kinds: dict[str, str],
    alert_rules: Sequence[AlertRule],
    default_sinks: Sequence[str] | None,
    quiet_hours: Sequence[SinkQuietHours],
    digest: DigestConfig | None,
) -> None:
    """Every sink a rule, a default, quiet hours or the digest names must exist.

    Args:
        known: The sink ids (``sink_ids`` of the configured sinks, ``log`` when none is).
        kinds: Sink id -> its kind (the digest refuses PagerDuty).
        alert_rules: The rules, in file order.
        default_sinks: Where unmatched alerts go (None: every sink).
        quiet_hours: Quiet hours per sink.
        digest: The digest, if configured.

    Raises:
        PydanticCustomError: The first wrong reference; its ``at`` context names the field
            (``alert_rules[1].sinks[0]``), which the loader puts in front of the message.
    """
    refs: list[tuple[str, str]] = []
    for i, rule in enumerate(alert_rules):
        refs += [(f"alert_rules[{i}].sinks[{j}]", s) for j, s in enumerate(rule.sinks)]
    refs += [(f"default_sinks[{j}]", s) for j, s in enumerate(default_sinks or ())]
    for i, quiet in enumerate(quiet_hours):
        refs += [(f"quiet_hours[{i}].sinks[{j}]", s) for j, s in enumerate(quiet.sinks)]
    if digest is not None:
        refs += [(f"digest.sinks[{j}]", s) for j, s in enumerate(digest.sinks)]
    for path, name in refs:
        if name not in known:
            raise _unknown(path, name, known)
    if digest is not None:
        for j, name in enumerate(digest.sinks):
            if kinds.get(name) == "pagerduty":
                raise PydanticCustomError(
                    "digest_sink", "{at}: '{name}' is a PagerDuty sink, which would open an "
                    "incident every day; send the digest to a chat, email or log sink",
                    {"at": f"digest.sinks[{j}]", "name": name})
