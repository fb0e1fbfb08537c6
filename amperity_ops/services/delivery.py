"""Deliver due alerts from the store's outbox to the configured sinks (at least once)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import httpx

from amperity_ops.alerts import build_sinks
from amperity_ops.services.outbox import deliver_due
from amperity_ops.settings import AlertSinkConfig, LogSinkConfig, OpsConfig, sink_ids

if TYPE_CHECKING:
    from amperity_ops.services.runtime import OpsRuntime

__all__ = [
    "DELIVERY_TIMEOUT_S",
    "DeliverySummary",
    "deliver_outbox",
    "effective_sinks",
    "outbox_sink_ids",
]

log = logging.getLogger(__name__)

ROUND_SIZE = 100
"""Outbox items claimed per delivery round."""
DELIVERY_TIMEOUT_S = 10.0
"""Per-request timeout towards a sink: a sink that hangs must not eat the sensor's budget."""


def effective_sinks(config: OpsConfig) -> Sequence[AlertSinkConfig]:
    """The configured sinks, or the log sink when none is configured (alerts are never lost)."""
    return config.alerts or [LogSinkConfig(kind="log")]


def outbox_sink_ids(config: OpsConfig) -> list[str]:
    """The outbox names of :func:`effective_sinks` (what alerts are enqueued for)."""
    return sink_ids(list(effective_sinks(config)))


@dataclass(frozen=True)
class DeliverySummary:
    """How one delivery pass went."""

    delivered: int = 0
    failed: int = 0
    expired: int = 0
    retried: int = 0
    """Of ``delivered``, items that had failed before (a sink may have seen them twice)."""

    def describe(self) -> str:
        """E.g. ``outbox: 200 delivered (37 retried), 1 failed (retried later)``."""
        text = f"outbox: {self.delivered} delivered"
        if self.retried:
            text += f" ({self.retried} retried)"
        if self.failed:
            text += f", {self.failed} failed (retried later)"
        if self.expired:
            text += f", {self.expired} expired"
        return text


def deliver_outbox(
    runtime: OpsRuntime,
    *,
    now: datetime,
    http: httpx.Client | None = None,
    max_seconds: float | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> DeliverySummary:
    """Send every due alert to its sink; failures stay in the outbox and are retried.

    Args:
        runtime: Config (sinks, delivery backoff) and store.
        now: The current time.
        http: The HTTP client for sinks (default: a new one with a short timeout).
        max_seconds: Stop sending after this long; the rest waits for the next tick.
        monotonic: Elapsed-time source.

    Returns:
        Counts of delivered, failed and expired items.
    """
    sinks = build_sinks(list(effective_sinks(runtime.config)), slack_messages=runtime.store)
    owned = http is None
    client = http or httpx.Client(timeout=DELIVERY_TIMEOUT_S)
    started = monotonic()
    total = DeliverySummary()
    try:
        # Rounds of ROUND_SIZE until the outbox has nothing due (or the time is up), so a
        # burst of alerts (hundreds of runs breaching at once) goes out in one tick.
        while True:
            left = None if max_seconds is None else max_seconds - (monotonic() - started)
            if left is not None and left <= 0:
                break
            report = deliver_due(
                runtime.store,
                sinks,
                now=now,
                http=client,
                delivery=runtime.config.delivery,
                limit=ROUND_SIZE,
                max_seconds=left,
            )
            total = DeliverySummary(
                delivered=total.delivered + int(report.delivered),
                failed=total.failed + int(report.failed),
                expired=total.expired + int(report.expired),
                retried=total.retried + int(report.retried),
            )
            handled = int(report.delivered) + int(report.failed) + int(report.expired)
            if handled < ROUND_SIZE:
                break
    finally:
        if owned:
            client.close()
    return total
