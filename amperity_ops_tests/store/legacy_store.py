"""A store as amperity-ops made it before migrations existed, with rows in every table.

Shared by the migration and the ``store`` command tests. The tables come from
:mod:`schema_before_migrations` (frozen); the rows cover NULLs, unicode, big numbers, both
booleans and every kind of free-text requester the stop ledger has seen.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, text

from amperity_ops.store import make_engine
from amperity_ops_tests.store import schema_before_migrations as old

__all__ = ["REQUESTERS", "T0", "make_legacy_store", "old_rows"]

T0 = datetime(2026, 11, 1, 2, 0, 0, 123456)  # naive UTC, as the store keeps it

REQUESTERS = {
    "sensor amperity_workflow_sla_sensor": ("sensor", "amperity_workflow_sla_sensor"),
    "cli alice": ("cli", "alice"),
    "cli": ("cli", ""),
    "cli:bob": ("cli", "bob"),  # what `amperity-ops runs stop` has written so far
    "launchpad (anonymous)": ("person", "launchpad (anonymous)"),
    "carol@example.com": ("person", "carol@example.com"),
    "Sensor upper case": ("person", "Sensor upper case"),  # prefixes are case-sensitive
    "sensorless": ("person", "sensorless"),
    "schedule nightly": ("person", "schedule nightly"),
}


def old_rows() -> dict[Table, list[dict[str, Any]]]:
    """Rows of every table, with NULLs, unicode, big numbers and both booleans."""
    runs = [
        {"tenant": "acme", "id": f"wf-{i}", "name": f"Nightly ✓ {i}", "type": "courier.group/run",
         "state_raw": state, "state_kind": kind, "created_at": T0 + timedelta(minutes=i),
         "ended_at": None if kind == "active" else T0 + timedelta(hours=1, minutes=i),
         "warn_after_ms": None if i % 2 else 600_000 * i, "last_seen": T0 + timedelta(hours=2),
         "payload": f'{{"id": "wf-{i}", "note": "ünïcode"}}'}
        for i, (state, kind) in enumerate(
            [("running", "active"), ("succeeded", "succeeded"), ("failed", "failed"),
             ("stopped", "stopped"), ("vanished", "vanished")]
        )
    ]
    watermarks: list[dict[str, Any]] = [
        {"tenant": "acme", "stream": "runs", "value": T0, "updated_at": T0},
        {"tenant": "beta", "stream": "ingest", "value": T0 - timedelta(days=3),
         "updated_at": T0 + timedelta(seconds=5)},
    ]
    jobs: list[dict[str, Any]] = [
        {"tenant": "acme", "id": "isj-1", "workflow_id": "wf-1", "created_at": T0,
         "ended_at": T0 + timedelta(minutes=3), "last_seen": T0, "payload": "{}"},
        {"tenant": "acme", "id": "isj-2", "workflow_id": None, "created_at": T0,
         "ended_at": None, "last_seen": T0, "payload": '{"x": 1}'},
    ]
    feeds = [
        {"tenant": "acme", "job_id": "isj-1", "feed_id": f"df-{i}", "table_name": f"orders_{i}",
         "state_raw": "succeeded", "state_kind": "succeeded", "read": 10**12 + i, "errors": i,
         "rejected": 0, "inserted": 100, "updated": 7, "started_at": T0,
         "ended_at": None if i else T0 + timedelta(minutes=1)}
        for i in range(3)
    ]
    alert_state: list[dict[str, Any]] = [
        {"tenant": "acme", "subject": "wf-0", "kind": "run", "level": "breach",
         "last_sent": "warn", "workflow_name": "Nightly", "updated_at": T0},
        {"tenant": "acme", "subject": "ingest:isj-2", "kind": "ingest", "level": "warn",
         "last_sent": None, "workflow_name": "", "updated_at": T0},
    ]
    outbox = [
        {"id": i + 1, "dedup_key": f"acme/wf-{i}", "level": level, "sink": "slack:ops",
         "tenant": "acme", "workflow_id": f"wf-{i}", "title": f"Run {i} over SLA",
         "payload": '{"text": "over"}', "status": status, "attempts": i,
         "created_at": T0, "next_attempt_at": T0 + timedelta(seconds=30 * i),
         "delivered_at": T0 if status == "delivered" else None,
         "last_error": "HTTP 500" if status == "expired" else None}
        for i, (level, status) in enumerate(
            [("warn", "delivered"), ("breach", "pending"), ("warn", "expired")]
        )
    ]
    stops = [
        {"id": i + 1, "run_key": f"acme/wf-{i}", "tenant": "acme", "workflow_id": f"wf-{i}",
         "workflow_name": "Nightly", "requested_by": who, "reason": f"reason {i}",
         "dry_run": i % 2 == 1, "requested_at": T0 + timedelta(minutes=i),
         "state_before": "running", "state_after": None if i == 0 else "stopped",
         "result": None if i == 0 else "stopped", "finished_at": None if i == 0 else T0,
         "detail": None if i == 0 else "took 40s"}
        for i, who in enumerate(REQUESTERS)
    ]
    return {old.workflow_runs: runs, old.watermarks: watermarks, old.ingest_jobs: jobs,
            old.ingest_feeds: feeds, old.alert_state: alert_state, old.alert_outbox: outbox,
            old.stop_ledger: stops}


def make_legacy_store(url: str) -> str:
    """Builds, at ``url``, a store as amperity-ops made it before migrations, rows and all."""
    engine = make_engine(url)
    old.metadata.create_all(engine)
    with engine.begin() as conn:
        for table, rows in old_rows().items():
            conn.execute(table.insert(), rows)
        if conn.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for name in ("ao_alert_outbox", "ao_stop_ledger"):
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT max(id) FROM {name}))"
                ))
    engine.dispose()
    return url
