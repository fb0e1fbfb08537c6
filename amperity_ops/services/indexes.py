"""Profile indexes: read them, and run the configured canary lookups (the tenant's budget).

Every request goes through the tenant's client, so index reads and canaries count against the
same rate budget as everything else. What to report is decided in
:mod:`amperity_ops.monitoring.indexes`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from amperity_ops.client import AmperityError, Index
from amperity_ops.services.tenants import describe_tenant_error

if TYPE_CHECKING:
    from amperity_ops.client import AmperityClient
    from amperity_ops.settings import IndexCanary, TenantConfig

__all__ = ["CanaryResult", "find_index", "read_indexes", "run_canary"]

_PAGE = 100


def read_indexes(client: AmperityClient) -> list[Index]:
    """Every profile index of the tenant (``GET /indexes``; one request for up to 100)."""
    return list(client.list_indexes(limit=_PAGE))


def find_index(indexes: Sequence[Index], ref: str) -> Index | None:
    """The index named ``ref`` (its id or its name), if any."""
    return next((i for i in indexes if ref in (i.id, i.name)), None)


@dataclass(frozen=True)
class CanaryResult:
    """One canary lookup: did it find a profile, how long did it take."""

    canary: IndexCanary
    index_id: str | None
    found: bool
    latency_s: float | None
    problem: str | None = None
    """Why nothing was found when the lookup itself failed (no such index, an API error)."""


def run_canary(
    client: AmperityClient,
    tenant: TenantConfig,
    canary: IndexCanary,
    indexes: Sequence[Index],
    *,
    monotonic: Callable[[], float] = time.monotonic,
) -> CanaryResult:
    """Look one profile up: ``GET /indexes/{id}/profiles?filter[<attr>]=<value>&limit=1``.

    Args:
        client: The tenant's client.
        tenant: The tenant (to scrub its credentials from an error line).
        canary: The lookup.
        indexes: The indexes as read this tick (to find the canary's index by name or id).
        monotonic: Real seconds, for the latency.

    Returns:
        The result; an API failure is a failed canary with the problem, never raised.
    """
    index = find_index(indexes, canary.index)
    if index is None:
        known = ", ".join(i.name for i in indexes) or "none"
        return CanaryResult(canary, None, False, None,
                            f"no index named {canary.index!r} (indexes: {known})")
    started = monotonic()
    try:
        found = list(client.list_profiles(index.id, filters=canary.filter, limit=1, max_items=1))
    except AmperityError as err:
        return CanaryResult(canary, index.id, False, monotonic() - started,
                            describe_tenant_error(tenant, err))
    return CanaryResult(canary, index.id, bool(found), monotonic() - started)
