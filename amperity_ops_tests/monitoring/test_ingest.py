"""Ingest health: failed feeds and rates over thresholds, table-driven."""

from __future__ import annotations

import pytest

from amperity_ops.client.models import IngestJob
from amperity_ops.core import AlertLevel
from amperity_ops.monitoring import evaluate_ingest_job, ingest_alert_message
from amperity_ops.monitoring.ingest import rate_over_threshold
from amperity_ops.settings import IngestThresholds
from amperity_ops_tests.monitoring.helpers import NOW

LIMITS = IngestThresholds(max_error_rate=0.01, max_reject_rate=0.05)


def job(**feed: object) -> IngestJob:
    base = {"feed_id": "df-1", "table_name": "orders", "state": "succeeded", "read": 1000,
            "errors": 0, "rejected": 0, "inserted": 1000, "updated": 0}
    return IngestJob.model_validate({"id": "isj-1", "workflow_id": "wf-1",
                                     "tables": [{**base, **feed}]})


@pytest.mark.parametrize(
    ("feed", "kinds"),
    [
        ({}, []),
        ({"errors": 10}, []),                        # exactly 1 %: not over
        ({"errors": 11}, ["error_rate"]),
        ({"rejected": 51}, ["reject_rate"]),
        ({"state": "failed"}, ["failed"]),
        ({"state": "Something New"}, []),            # unknown state is not "failed"
        ({"read": 0, "errors": 0}, []),              # nothing read: no division by zero
        ({"state": "failed", "errors": 500, "rejected": 500},
         ["failed", "error_rate", "reject_rate"]),
    ],
)
def test_evaluate_ingest_job(feed: dict[str, object], kinds: list[str]) -> None:
    """Each feed is flagged for failure and for rates strictly over the thresholds."""
    health = evaluate_ingest_job(job(**feed), LIMITS)
    assert [p.kind for p in health.problems] == kinds
    assert health.ok is (not kinds)


def test_ingest_alert_message() -> None:
    """An unhealthy job becomes one 'ingest' alert with its own dedup key and the numbers."""
    health = evaluate_ingest_job(job(rejected=200), LIMITS)
    message = ingest_alert_message("acme", health, now=NOW)
    assert message.level is AlertLevel.INGEST
    assert message.dedup_key == "amperity-ops:acme:ingest:isj-1"
    assert "orders: 20.00% rejected > 5.00% (200 of 1,000 rows)" in message.text


def _two_feed_job() -> IngestJob:
    feed = {"state": "succeeded", "inserted": 0, "updated": 0, "rejected": 0}
    return IngestJob.model_validate({"id": "isj-2", "workflow_id": "wf-1", "tables": [
        {**feed, "feed_id": "df-1", "table_name": "POS_Stores", "read": 22_000, "errors": 287},
        {**feed, "feed_id": "df-2", "table_name": "POS_Transactions", "read": 10_000,
         "errors": 104},
        {**feed, "feed_id": "df-3", "table_name": "Loyalty", "read": 78_226, "errors": 0},
    ]})


def test_ingest_alert_labels_job_totals_and_adds_each_feeds_own_numbers() -> None:
    """Totals say "(all feeds)"; each offending feed has its own rows, errors and rate."""
    message = ingest_alert_message("acme", evaluate_ingest_job(_two_feed_job(), LIMITS), now=NOW)
    facts = dict(message.facts)
    assert facts["Rows read (all feeds)"] == "110,226"
    assert facts["Errors (all feeds)"] == "391 (0.35%)"
    assert facts["Feed POS_Stores"] == (
        "succeeded; 22,000 rows read, 287 errors (1.30%), 0 rejected (0.00%)")
    assert "Feed Loyalty" not in facts
    assert "POS_Transactions: 1.04% errors > 1.00% (104 of 10,000 rows)" in message.title
    assert "Rows read: " not in message.text


@pytest.mark.parametrize(
    ("value", "threshold", "expected"),
    [
        (0.0104, 0.01, "1.04% > 1.00%"),
        (0.013, 0.01, "1.30% > 1.00%"),
        (0.01004, 0.01, "1.004% > 1.000%"),
        (0.2, 0.05, "20.00% > 5.00%"),
    ],
)
def test_rate_over_threshold_is_visibly_over(value: float, threshold: float, expected: str) -> None:
    """A rate over its threshold never prints equal to it: precision grows until they differ."""
    assert rate_over_threshold(value, threshold) == expected
