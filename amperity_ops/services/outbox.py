"""At-least-once delivery from the outbox, with exponential backoff and no silent drops.

``deliver_due`` claims due items, sends each to its sink, and marks it delivered. A failure
keeps the item and schedules the next attempt (``retry_initial`` doubling up to
``retry_max``). A sink that fails before any success in a round, or fails
``DOWN_AFTER_FAILURES`` times in a row, is down for the round: its other items wait for the
same retry time untried, so a dead sink costs one timeout per round (three at most when it
dies mid-round), not one per item, while a flaky sink that fails every other request still
gets its alerts out in a few ticks instead of one alert per tick. Each delivery is recorded
the moment its sink accepts it, so a process killed mid-round sends again only the one alert
that was in flight. An item still
undelivered ``give_up_after`` (default 3 days) after it was raised is marked ``expired``, kept
in the store, and logged at ERROR: a page about a three-day-old run helps nobody, but nothing
disappears without a trace.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx

from amperity_ops.alerts import AlertSink, SinkError, redact

if TYPE_CHECKING:
    from amperity_ops.settings import DeliveryConfig
    from amperity_ops.store import Store

__all__ = ["DeliveryReport", "deliver_due", "retry_delay"]

logger = logging.getLogger("amperity_ops.alerts.delivery")  # the name operators filter on

_DEFAULT_INITIAL = timedelta(seconds=30)
_DEFAULT_MAX = timedelta(minutes=15)
_DEFAULT_GIVE_UP = timedelta(days=3)
DOWN_AFTER_FAILURES = 3
"""Failures in a row after which a sink that had succeeded this round counts as down."""


@dataclass
class DeliveryReport:
    """What one delivery round did."""

    delivered: int = 0
    failed: int = 0
    """Attempts that failed (the items are kept and retried)."""
    expired: int = 0
    retried: int = 0
    """Of ``delivered``, items that had failed before: the sink may have seen them twice (a
    500 after the receiver acted), so they are the duplicates anyone downstream can see."""
    postponed: int = 0
    """Items left untried this round (their sink had just failed, or the time ran out)."""

    def __str__(self) -> str:
        retried = f" ({self.retried} retried)" if self.retried else ""
        return (f"{self.delivered} delivered{retried}, {self.failed} failed (will retry), "
                f"{self.expired} expired, {self.postponed} postponed")


def retry_delay(failures: int, *, initial: timedelta = _DEFAULT_INITIAL,
                maximum: timedelta = _DEFAULT_MAX) -> timedelta:
    """Wait before the next attempt after ``failures`` failed attempts (1, 2, ...).

    ``initial * 2 ** (failures - 1)``, capped at ``maximum``. No jitter: items of one sink fail
    together and should come back together, in order.
    """
    exponent = min(max(failures - 1, 0), 30)
    return min(initial * (2**exponent), maximum)


def deliver_due(
    store: Store,
    sinks: Mapping[str, AlertSink],
    *,
    now: datetime,
    http: httpx.Client,
    delivery: DeliveryConfig | None = None,
    limit: int = 100,
    max_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> DeliveryReport:
    """Send the outbox items due at ``now`` to their sinks.

    Args:
        store: The store holding the outbox.
        sinks: Sink id to sink (``build_sinks(config.alerts)``). Items for sinks not listed
            stay pending (a sink removed from the config is not a reason to drop its alerts).
        now: The current time (due-ness, backoff and expiry are computed from it).
        http: The HTTP client the sinks post with (its timeout bounds each attempt).
        delivery: Backoff and give-up settings (defaults: 30 s doubling to 15 min; 3 days).
        limit: At most this many items per round.
        max_seconds: Stop sending after this long (the rest is postponed to the next round).
        clock: Monotonic seconds, for ``max_seconds`` (injectable for tests).

    Returns:
        Counts of what happened.
    """
    initial = delivery.retry_initial if delivery else _DEFAULT_INITIAL
    maximum = delivery.retry_max if delivery else _DEFAULT_MAX
    give_up = delivery.give_up_after if delivery else _DEFAULT_GIVE_UP
    report = DeliveryReport()
    started = clock()
    failed_sinks: dict[str, datetime] = {}
    succeeded: set[str] = set()  # sinks that accepted an item this round
    streak: dict[str, int] = {}  # failures in a row per sink
    # Postponements are written once per round (an untried item lost to a crash only comes
    # back after its lease). A delivery is written at once, one commit per item: batching
    # them made a process killed mid-round send the whole round again (a webhook saw every
    # alert of the round twice, crash/test_tick_killed_while_delivering.py). It costs a few
    # ms per alert (bench/outbox_burst.py); a real sink's round trip is tens of times that.
    postponed: dict[datetime, list[int]] = {}
    try:
        with store.recording_deliveries(now=now) as record_delivery:
            for item in store.claim_due_alerts(now=now, sinks=list(sinks), limit=limit):
                if item.sink in failed_sinks:
                    postponed.setdefault(failed_sinks[item.sink], []).append(item.id)
                    report.postponed += 1
                    continue
                if max_seconds is not None and clock() - started > max_seconds:
                    postponed.setdefault(now, []).append(item.id)
                    report.postponed += 1
                    continue
                try:
                    sinks[item.sink].send(item.message, http)
                except Exception as err:  # any sink failure must keep the item, never lose it
                    error = str(err) if isinstance(err, SinkError) else redact(
                        f"{item.sink}: {type(err).__name__}: {err}")
                    streak[item.sink] = streak.get(item.sink, 0) + 1
                    if now - item.message.raised_at >= give_up:
                        store.mark_alert_expired(item.id, now=now, error=error)
                        report.expired += 1
                        logger.error(
                            "GIVING UP on alert %r for sink %s after %d attempts over %s: %s",
                            item.message.title, item.sink, item.attempts + 1, give_up, error)
                        continue
                    retry_at = now + retry_delay(item.attempts + 1, initial=initial,
                                                 maximum=maximum)
                    store.mark_alert_failed(item.id, now=now, error=error, retry_at=retry_at)
                    if item.sink not in succeeded or streak[item.sink] >= DOWN_AFTER_FAILURES:
                        failed_sinks[item.sink] = retry_at
                    report.failed += 1
                    logger.warning("alert delivery failed (attempt %d, retry at %s): %s",
                                   item.attempts + 1, retry_at.isoformat(), error)
                    continue
                record_delivery(item.id)
                succeeded.add(item.sink)
                streak[item.sink] = 0
                report.delivered += 1
                report.retried += item.attempts > 0
    finally:
        for until, ids in postponed.items():
            store.postpone_alerts(ids, until=until)
    return report
