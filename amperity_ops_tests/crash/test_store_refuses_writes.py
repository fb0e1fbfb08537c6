"""A history store that refuses writes: a real SQLite file capped with ``max_page_count``.

The cap is a per-connection pragma, so the test's engine sets it on every new connection
(a SQLAlchemy ``connect`` listener) once the schema exists, and drops it when "space returns".
The SLA sensor ticks in this process against the simulator and a real (ephemeral) Dagster
instance: the tick over a full store fails with one line naming the store and requests no
stop; the tick after space returns records and requests the stops and delivers the alerts.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, build_sensor_context
from sqlalchemy import Engine, event

from amperity_ops.defs.sensors import amperity_ingest_sensor, amperity_workflow_sla_sensor
from amperity_ops.monitoring.stop_retry import attempt_run_key
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.settings import OpsConfig
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops.store import Store, StoreError, make_engine
from amperity_ops_tests.services.helpers import TENANT, make_config, make_runtime, sqlite_url

pytestmark = pytest.mark.slow

RUNS = 8
MAX_STOPS = 5
"""``auto_stop.max_stops_per_hour`` in the test policy: the stops requested by one tick."""


class PageCap:
    """Sets ``PRAGMA max_page_count`` on every new connection while ``pages`` is set."""

    def __init__(self) -> None:
        self.pages: int | None = None

    def __call__(self, dbapi_connection: Any, _record: Any) -> None:
        if self.pages is not None:
            dbapi_connection.execute(f"PRAGMA max_page_count={self.pages}")


def _tick(runtime: OpsRuntime, instance: DagsterInstance) -> list[str]:
    context = build_sensor_context(instance=instance, resources={"amperity_ops": runtime})
    result = amperity_workflow_sla_sensor(context)
    return [str(r.run_key) for r in result.run_requests or []]


def _ledger_keys(store: Store) -> set[str]:
    return {row.run_key for row in store.stop_records(TENANT)}


def _capped_runtime(
    sim: Simulator, clock: ManualClock, tmp_path: Path, config: OpsConfig
) -> tuple[OpsRuntime, Engine, PageCap]:
    """A runtime whose SQLite store gets ``cap`` on every new connection."""
    sim.set_rate_limit(None)
    url = sqlite_url(tmp_path)
    cap = PageCap()
    engine = make_engine(url)
    event.listen(engine, "connect", cap)
    runtime = make_runtime(sim, clock, url, config)
    runtime.store.close()
    runtime.store = Store(engine)
    return runtime, engine, cap


def test_a_full_store_fails_the_tick_in_one_line_and_the_next_tick_catches_up(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    """Full SQLite: one-line failure, no stop without a ledger row; space back: all caught up."""
    runtime, engine, cap = _capped_runtime(
        sim, clock, tmp_path, make_config(auto_stop={"max_stops_per_hour": MAX_STOPS}))
    store = runtime.store
    with DagsterInstance.ephemeral() as instance:
        assert _tick(runtime, instance) == []  # nothing running yet; every table has pages
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM")  # no free pages left to fill
            pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
        cap.pages = pages
        engine.dispose()  # new connections get the cap
        runs = [sim.tenant(TENANT).add_run(name=f"Courier Group {i}",
                                           started_ago=timedelta(hours=3)) for i in range(RUNS)]
        outbox_before = store.outbox_counts()

        clock.advance(timedelta(minutes=1))
        with pytest.raises(StoreError) as failed:
            _tick(runtime, instance)
        message = str(failed.value)
        assert "\n" not in message
        assert message.startswith(f"the history store at {store.url} failed: ")
        assert "full" in message  # sqlite3: "database or disk is full"
        assert _ledger_keys(store) == set()  # no ledger row, and no RunRequest (it raised)
        assert store.outbox_counts() == outbox_before
        assert instance.get_runs() == []

        cap.pages = None  # space returns
        engine.dispose()
        clock.advance(timedelta(minutes=1))
        requested = _tick(runtime, instance)
        expected = {attempt_run_key(TENANT, run.id, 1) for run in runs}
        assert len(requested) == MAX_STOPS
        assert set(requested) <= expected
        assert set(requested) == _ledger_keys(store)  # each requested stop has its row
        counts = store.outbox_counts()
        assert set(counts) == {"delivered"}  # queued and delivered (the log sink)
        assert counts["delivered"] >= RUNS  # one breach alert per run at least
    store.close()


def test_a_full_store_fails_the_ingest_tick_in_one_line_naming_the_store(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    """The ingest sensor over a full store: the same one line as the SLA sensor's."""
    # Every feed with a rejected or failed row is unhealthy: the tick has an alert to record.
    strict = {"max_error_rate": 0, "max_reject_rate": 0, "alert_on_failed_feed": True}
    runtime, engine, cap = _capped_runtime(
        sim, clock, tmp_path, make_config(ingest_thresholds=strict))
    store = runtime.store
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM")
        cap.pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
    engine.dispose()
    for _ in range(20):  # more alert rows than the tables' half-empty pages can take
        sim.tenant(TENANT).add_ingest_job(tables=("Orders", "Returns", "Loyalty", "Customers"),
                                          started_ago=timedelta(0))
    clock.advance(timedelta(minutes=5))
    with DagsterInstance.ephemeral() as instance, pytest.raises(StoreError) as failed:
        amperity_ingest_sensor(build_sensor_context(instance=instance,
                                                    resources={"amperity_ops": runtime}))
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith(f"the history store at {store.url} failed: ")
    store.close()
