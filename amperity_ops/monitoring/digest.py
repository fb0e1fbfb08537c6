"""The daily digest: when it is due, and the one message it is (pure; the store gives the facts).

It is sent by the first SLA sensor tick at or after ``digest.at`` (local time in
``digest.time_zone``) each day, and covers the 24 hours before that moment. The outbox keeps it
once per day and sink (dedup key ``amperity-ops:digest:<day>``), so restarts and several
processes never send a day's digest twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from amperity_ops.core.alerts import AlertLevel, AlertMessage

if TYPE_CHECKING:
    from amperity_ops.settings import DigestConfig

__all__ = ["DigestItem", "TenantDigest", "digest_due", "digest_key", "digest_message"]

MAX_LINKS = 5
"""Each list names at most this many runs (with links), then ``+N more``."""


def digest_key(day: date) -> str:
    """The outbox key of one day's digest."""
    return f"amperity-ops:digest:{day.isoformat()}"


def digest_due(digest: DigestConfig, now: datetime) -> tuple[date, datetime] | None:
    """Today's digest day and its send time (UTC), once today's ``at`` has passed; else None."""
    zone = ZoneInfo(digest.time_zone)
    today = now.astimezone(zone).date()
    send_at = datetime.combine(today, digest.at, tzinfo=zone).astimezone(UTC)
    return (today, send_at) if now >= send_at else None


@dataclass(frozen=True)
class DigestItem:
    """One run (or silence) in a digest list."""

    workflow_id: str
    label: str
    """The workflow's name, or a silence's subject and reason."""


@dataclass
class TenantDigest:
    """What happened to one tenant in the digest's 24 hours."""

    tenant: str
    late: list[DigestItem] = field(default_factory=list)
    failed: list[DigestItem] = field(default_factory=list)
    stopped: list[DigestItem] = field(default_factory=list)
    silenced: list[DigestItem] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when nothing happened."""
        return not (self.late or self.failed or self.stopped or self.silenced)


def _lines(title: str, items: Sequence[DigestItem],
           link_for: Callable[[str], str | None]) -> list[str]:
    if not items:
        return []
    out = [f"  {title}: {len(items)}"]
    for item in items[:MAX_LINKS]:
        link = link_for(item.workflow_id) if item.workflow_id.startswith("wf-") else None
        out.append(f"    - {item.label} {item.workflow_id}" + (f" {link}" if link else ""))
    if len(items) > MAX_LINKS:
        out.append(f"    +{len(items) - MAX_LINKS} more")
    return out


def digest_message(
    day: date,
    tenants: Sequence[TenantDigest],
    *,
    now: datetime,
    since: datetime,
    links: Mapping[str, Callable[[str], str | None]] | None = None,
) -> AlertMessage:
    """The digest as one message: per tenant, counts of late, failed, stopped, silenced runs.

    Args:
        day: The digest's day (its local date).
        tenants: One entry per tenant, in config order.
        now: When it is raised.
        since: The start of the 24 hours it covers.
        links: Tenant -> run id -> link in the Amperity app.
    """
    links = links or {}
    totals = {k: sum(len(getattr(t, k)) for t in tenants)
              for k in ("late", "failed", "stopped", "silenced")}
    summary = ", ".join(f"{n} {k}" for k, n in totals.items())
    title = f"DIGEST {day.isoformat()}: {summary} in the last 24h"
    lines = [title, f"From {since:%Y-%m-%d %H:%M} to {now:%Y-%m-%d %H:%M} UTC"]
    facts: list[tuple[str, str]] = []
    for t in tenants:
        if t.empty:
            lines.append(f"{t.tenant}: nothing late, failed, stopped or silenced")
            facts.append((t.tenant, "all quiet"))
            continue
        link_for = links.get(t.tenant, lambda _id: None)
        detail = [*_lines("late", t.late, link_for), *_lines("failed", t.failed, link_for),
                  *_lines("stopped", t.stopped, link_for),
                  *_lines("silenced", t.silenced, link_for)]
        lines += [f"{t.tenant}:", *detail]
        facts.append((t.tenant, f"{len(t.late)} late, {len(t.failed)} failed, "
                                f"{len(t.stopped)} stopped, {len(t.silenced)} silenced"))
        # Chat sinks show the facts, not the text: the runs and their links go here too.
        facts.append((f"{t.tenant} runs", "\n".join(line.strip() for line in detail)))
    return AlertMessage(
        tenant="*",
        workflow_id=f"digest-{day.isoformat()}",
        workflow_name="daily digest",
        level=AlertLevel.RESOLVED,  # a report, not an incident: nothing for a pager to open
        title=title,
        text="\n".join(lines),
        dedup_key=digest_key(day),
        raised_at=now,
        facts=tuple(facts),
        kind="digest",
    )


DIGEST_WINDOW = timedelta(hours=24)
"""What the digest covers: the 24 hours before it is sent."""
