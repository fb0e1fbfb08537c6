"""Ingest health: failed feeds and rates over thresholds, table-driven."""

from __future__ import annotations

import pytest

from amperity_ops.alerts import AlertLevel
from amperity_ops.client.models import IngestJob
from amperity_ops.monitoring import evaluate_ingest_job, ingest_alert_message
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
    assert "orders: 20.0% rejected (threshold 5.0%)" in message.text
