"""Retry policy: what is retried, what is verified first, backoff bounds, Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from amperity_ops.client._retry import (
    Decision,
    RetryPolicy,
    TransportFailure,
    backoff_seconds,
    classify_status,
    classify_transport,
    next_delay,
    parse_retry_after,
)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_rate_limit_and_server_errors_are_retried_on_reads(status: int) -> None:
    """429 and every 5xx are retried for idempotent requests."""
    assert classify_status(status, idempotent=True) is Decision.RETRY


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_errors_are_never_retried(status: int) -> None:
    """400/401/403/404/409 and other 4xx fail at once (401 is the auth refresh's business)."""
    assert classify_status(status, idempotent=True) is Decision.FAIL
    assert classify_status(status, idempotent=False) is Decision.FAIL


def test_stop_and_start_verify_before_retrying_a_5xx_but_retry_a_429() -> None:
    """A 5xx on a stop/start may have acted: verify; a 429 was refused before acting: retry."""
    assert classify_status(500, idempotent=False) is Decision.VERIFY
    assert classify_status(429, idempotent=False) is Decision.RETRY


def test_lost_answers_are_verified_only_for_non_idempotent_requests() -> None:
    """A lost answer is retried for GETs, verified for stop/start; never-sent is always retried."""
    assert classify_transport(TransportFailure.ANSWER_LOST, idempotent=True) is Decision.RETRY
    assert classify_transport(TransportFailure.ANSWER_LOST, idempotent=False) is Decision.VERIFY
    assert classify_transport(TransportFailure.NOT_SENT, idempotent=False) is Decision.RETRY


def test_backoff_is_full_jitter_under_a_doubling_cap() -> None:
    """Backoff is rng() times min(max_backoff, initial * 2**(attempt-1))."""
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=4.0)
    assert backoff_seconds(1, policy, rng=lambda: 1.0) == 0.5
    assert backoff_seconds(3, policy, rng=lambda: 1.0) == 2.0
    assert backoff_seconds(10, policy, rng=lambda: 1.0) == 4.0
    assert backoff_seconds(3, policy, rng=lambda: 0.25) == 0.5
    assert backoff_seconds(3, policy, rng=lambda: 0.0) == 0.0


def test_next_delay_stops_at_the_attempt_bound() -> None:
    """No delay (give up) once max_attempts attempts were made."""
    policy = RetryPolicy(max_attempts=3)
    assert next_delay(2, 0.0, policy=policy, rng=lambda: 0.5) is not None
    assert next_delay(3, 0.0, policy=policy, rng=lambda: 0.5) is None


def test_next_delay_stops_at_the_time_bound() -> None:
    """No retry whose wait would cross max_total_seconds."""
    policy = RetryPolicy(max_total_seconds=10.0, initial_backoff=4.0, max_backoff=4.0)
    assert next_delay(1, 5.0, policy=policy, rng=lambda: 1.0) == 4.0
    assert next_delay(1, 7.0, policy=policy, rng=lambda: 1.0) is None


def test_retry_after_is_honoured_and_bounded() -> None:
    """Retry-After replaces the jittered backoff; an absurdly long one means give up."""
    policy = RetryPolicy(max_retry_after=30.0)
    assert next_delay(1, 0.0, policy=policy, retry_after=3.0, rng=lambda: 0.0) == 3.0
    assert next_delay(1, 0.0, policy=policy, retry_after=300.0) is None


def test_parse_retry_after_accepts_seconds_and_http_dates() -> None:
    """Retry-After parses as delta-seconds or as an HTTP date; junk is ignored."""
    now = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Sun, 01 Nov 2026 02:00:05 GMT", now=now) == 5.0
    assert parse_retry_after("Sun, 01 Nov 2026 01:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
