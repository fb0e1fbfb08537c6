"""Cheap inventory reads: segments, campaigns (with drafts) and audit events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from amperity_ops.client import APIStatusError, AuditEvent, Campaign, CampaignDraft, Segment
from amperity_ops.redaction import redact

if TYPE_CHECKING:
    from amperity_ops.client import AmperityClient

__all__ = [
    "AUDIT_MAX_LOOKBACK",
    "CampaignInventory",
    "audit_window_start",
    "list_audit_events",
    "list_campaigns",
    "list_segments",
]

AUDIT_MAX_LOOKBACK = timedelta(days=1)
"""The first audit read (or one after a long pause) goes back at most this far."""


@dataclass
class CampaignInventory:
    """A tenant's campaigns and drafts."""

    campaigns: list[Campaign] = field(default_factory=list)
    drafts: list[CampaignDraft] = field(default_factory=list)
    drafts_note: str | None = None
    """Why drafts are missing, if the ``unstable`` drafts endpoint refused."""


def list_segments(client: AmperityClient) -> list[Segment]:
    """Every segment of the tenant (one paginated listing)."""
    return list(client.list_segments())


def list_campaigns(client: AmperityClient) -> CampaignInventory:
    """Every campaign and campaign draft of the tenant.

    Drafts are served only under ``api-version: unstable``; if that endpoint refuses, the
    campaigns are still returned and ``drafts_note`` says why drafts are missing.
    """
    inventory = CampaignInventory(campaigns=list(client.list_campaigns()))
    try:
        inventory.drafts = list(client.list_campaign_drafts())
    except APIStatusError as err:
        inventory.drafts_note = redact(f"drafts unavailable: {err}")
    return inventory


def audit_window_start(previous_end: str | None, *, now: datetime) -> datetime:
    """Where the next audit read starts: the previous window's end, at most a day back.

    Args:
        previous_end: ``window_end`` of the previous read (ISO-8601), if any.
        now: The current time.
    """
    floor = now - AUDIT_MAX_LOOKBACK
    if previous_end:
        try:
            start = datetime.fromisoformat(previous_end)
        except ValueError:
            return floor
        return max(start, floor)
    return floor


def list_audit_events(
    client: AmperityClient, *, since: datetime, until: datetime
) -> list[AuditEvent]:
    """Audit events that happened in ``[since, until)``."""
    return list(client.list_audit_events(happened_from=since, happened_to=until))
