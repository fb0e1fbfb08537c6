"""Retry policy as pure functions and named constants: no sleeping, no I/O in here.

The request loop asks two questions after every failed attempt:

1. *What kind of failure was it?* (:func:`classify_status`, :func:`classify_transport`)
   - ``RETRY``: safe to send again as it is (429, 5xx on a read, a connection never made,
     a GET whose answer was lost or cut).
   - ``VERIFY``: the request may have taken effect and it is not idempotent (a stop or start
     whose answer was lost, or answered 5xx): re-read the state before sending it again.
   - ``FAIL``: never retried (400, 403, 404, 409, other 4xx; 401 is handled by the auth
     refresh, once, in the client).
2. *How long to wait, if at all?* (:func:`next_delay`): full-jitter exponential backoff,
   bounded by attempts *and* by total elapsed seconds, with ``Retry-After`` honoured.

Stop and start are bounded more tightly (:func:`next_unsafe_delay`): at most
``max_unsafe_sends`` (3) sends in any storm, spaced by *equal-jitter* backoff (at least half of
each step: never two sends in quick succession).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum

__all__ = [
    "DEFAULT_RETRY_POLICY",
    "Decision",
    "RetryPolicy",
    "TransportFailure",
    "backoff_seconds",
    "classify_status",
    "classify_transport",
    "next_delay",
    "next_unsafe_delay",
    "parse_retry_after",
]


class Decision(Enum):
    """What to do about one failed attempt."""

    RETRY = "retry"
    VERIFY = "verify"
    FAIL = "fail"


class TransportFailure(Enum):
    """Where a transport-level failure happened, which decides whether the request was seen."""

    NOT_SENT = "not_sent"
    """Connecting failed, or no pooled connection was free: the server never saw the request."""
    ANSWER_LOST = "answer_lost"
    """The request may have arrived; the answer was lost, timed out or cut short."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds and pacing of retries.

    Attributes:
        max_attempts: Total attempts, the first included (1 means never retry).
        max_total_seconds: No retry starts once this much time has passed since the first try,
            nor if its wait would cross this bound.
        initial_backoff: The cap of the first backoff; it doubles with every attempt.
        max_backoff: The largest cap of any single backoff.
        max_retry_after: A ``Retry-After`` longer than this is not waited for (we give up).
        max_unsafe_sends: At most this many sends of one stop or start, whatever the storm
            (also bounded by ``max_attempts``).
        unsafe_initial_backoff: The first backoff step between sends of a stop or start; it
            doubles with every send (equal jitter: between half and all of the step).
    """

    max_attempts: int = 6
    max_total_seconds: float = 60.0
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0
    max_unsafe_sends: int = 3
    unsafe_initial_backoff: float = 1.0


DEFAULT_RETRY_POLICY = RetryPolicy()

_RETRY_STATUSES = frozenset({408, 429})


def classify_status(status: int, *, idempotent: bool) -> Decision:
    """Decide about an HTTP error status.

    Args:
        status: The status code of the answer (>= 400).
        idempotent: False for stop and start, which must not be re-sent blindly.

    Returns:
        ``RETRY`` for 408/429 (the server refused before acting) and 5xx on idempotent
        requests, ``VERIFY`` for 5xx on non-idempotent ones, ``FAIL`` for everything else.
    """
    if status in _RETRY_STATUSES:
        return Decision.RETRY
    if 500 <= status < 600:
        return Decision.RETRY if idempotent else Decision.VERIFY
    return Decision.FAIL


def classify_transport(failure: TransportFailure, *, idempotent: bool) -> Decision:
    """Decide about a request that got no (complete) answer.

    Args:
        failure: Whether the request can have reached the server.
        idempotent: False for stop and start.

    Returns:
        ``RETRY`` when the request was never sent or is safe to repeat, else ``VERIFY``.
    """
    if failure is TransportFailure.NOT_SENT or idempotent:
        return Decision.RETRY
    return Decision.VERIFY


def backoff_seconds(
    attempt: int,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    *,
    rng: Callable[[], float] = random.random,
) -> float:
    """Full-jitter exponential backoff: uniform in ``[0, min(max, initial * 2**(attempt-1))]``.

    Full jitter spreads many clients that failed together (a 429 storm) instead of letting
    them retry in lockstep.

    Args:
        attempt: The number of the attempt that just failed (1 for the first).
        policy: The pacing constants.
        rng: A source of floats in [0, 1) (injectable for tests).

    Returns:
        Seconds to wait.
    """
    cap = min(policy.max_backoff, policy.initial_backoff * 2 ** max(attempt - 1, 0))
    return rng() * cap


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header: delta-seconds or an HTTP date.

    Args:
        value: The header value, or None when absent.
        now: The current time for the HTTP-date form (default: the real UTC now).

    Returns:
        Seconds to wait (>= 0), or None when absent or unparseable.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)


def next_delay(
    attempt: int,
    elapsed: float,
    *,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    retry_after: float | None = None,
    rng: Callable[[], float] = random.random,
) -> float | None:
    """How long to wait before the next attempt, or None to give up.

    Args:
        attempt: The number of the attempt that just failed (1 for the first).
        elapsed: Seconds since the first attempt started.
        policy: Bounds and pacing.
        retry_after: The server's ``Retry-After`` in seconds, if it sent one.
        rng: Jitter source (injectable for tests).

    Returns:
        Seconds to sleep, or None when the attempt or time budget is spent.
    """
    if attempt >= policy.max_attempts:
        return None
    if retry_after is not None:
        if retry_after > policy.max_retry_after:
            return None
        delay = retry_after
    else:
        delay = backoff_seconds(attempt, policy, rng=rng)
    if elapsed + delay > policy.max_total_seconds:
        return None
    return delay


def next_unsafe_delay(
    sends: int,
    elapsed: float,
    *,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    retry_after: float | None = None,
    rng: Callable[[], float] = random.random,
) -> float | None:
    """How long to wait before sending a stop or start again, or None to give up.

    Equal jitter (``step/2 + uniform(0, step/2)``, ``step = unsafe_initial_backoff * 2**(n-1)``
    capped at ``max_backoff``) keeps sends apart even when the random draw is small: a storm
    must never see a stop hammered.

    Args:
        sends: How many times the request was sent so far (1 after the first).
        elapsed: Seconds since the first send.
        policy: Bounds and pacing.
        retry_after: The server's ``Retry-After`` in seconds, if it sent one (waited at least).
        rng: Jitter source (injectable for tests).

    Returns:
        Seconds to sleep, or None when ``max_unsafe_sends`` (or ``max_attempts``, or the time
        budget) is spent.
    """
    if sends >= min(policy.max_unsafe_sends, policy.max_attempts):
        return None
    step = min(policy.max_backoff, policy.unsafe_initial_backoff * 2 ** max(sends - 1, 0))
    delay = step / 2 + rng() * step / 2
    if retry_after is not None:
        if retry_after > policy.max_retry_after:
            return None
        delay = max(delay, retry_after)
    if elapsed + delay > policy.max_total_seconds:
        return None
    return delay
