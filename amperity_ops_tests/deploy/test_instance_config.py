"""The Dagster instance files in the repository load and work: dev (SQLite) and prod (Postgres)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunsFilter,
    job,
    op,
)
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.storage.runs import SqliteRunStorage
from dagster._utils.tags import TagConcurrencyLimitsCounter
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage

from amperity_ops.definitions import defs
from amperity_ops.defs.jobs import STOP_JOB_NAME, stop_run_tags

STOP_TAG_LIMIT = {"key": "amperity-ops/job", "value": "stop", "limit": 2}
PER_TENANT_STOP_LIMIT = {"key": "amperity-ops/stop-tenant",
                         "value": {"applyLimitPerUniqueValue": True}, "limit": 1}


@op
def say_hello() -> str:
    """A one-step op whose run proves the storage records runs and events."""
    return "hello"


@job(tags={"amperity-ops/job": "probe"})
def probe_job() -> None:
    """A trivial job executed against the instance under test."""
    say_hello()


def _instance_from(yaml_path: Path, dagster_home: Path) -> DagsterInstance:
    """Copies an instance file into a fresh DAGSTER_HOME and loads it as Dagster would."""
    shutil.copy(yaml_path, dagster_home / "dagster.yaml")
    return DagsterInstance.from_config(str(dagster_home))


def _run_probe_and_read_back(instance: DagsterInstance) -> None:
    """Executes probe_job on the instance and asserts its run and events can be read back."""
    result = probe_job.execute_in_process(instance=instance)
    assert result.success
    records = instance.get_run_records(RunsFilter(job_name="probe_job"))
    assert [r.dagster_run.run_id for r in records] == [result.run_id]
    assert records[0].dagster_run.status == DagsterRunStatus.SUCCESS
    assert records[0].dagster_run.tags["amperity-ops/job"] == "probe"
    event_types = {
        e.dagster_event.event_type for e in instance.all_logs(result.run_id) if e.dagster_event
    }
    assert DagsterEventType.RUN_SUCCESS in event_types
    assert DagsterEventType.STEP_SUCCESS in event_types


def test_dev_instance_loads_with_sqlite_queue_and_monitoring(
    repo_root: Path, tmp_path: Path
) -> None:
    """dagster.yaml loads: SQLite, a queue capping stop jobs, run monitoring, no nux/telemetry."""
    instance = _instance_from(repo_root / "dagster.yaml", tmp_path)
    try:
        assert isinstance(instance.run_storage, SqliteRunStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.run_monitoring_enabled
        assert not instance.telemetry_enabled
        assert not instance.nux_enabled
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert STOP_TAG_LIMIT in limits
        assert PER_TENANT_STOP_LIMIT in limits
        _run_probe_and_read_back(instance)
    finally:
        instance.dispose()


@pytest.mark.parametrize("instance_file", ["dagster.yaml", "deploy/dagster.prod.yaml"])
def test_the_queue_runs_one_stop_per_tenant_and_two_in_all(
    repo_root: Path, instance_file: str
) -> None:
    """Stops of two tenants go side by side; a second one for a tenant, or a third, waits."""
    text = (repo_root / instance_file).read_text()
    limits = yaml.safe_load(text)["concurrency"]["runs"]["tag_concurrency_limits"]

    def stop_run(tenant: str) -> DagsterRun:  # as the SLA sensor queues it
        return DagsterRun(job_name=STOP_JOB_NAME, tags={
            **defs.resolve_job_def(STOP_JOB_NAME).tags,
            **stop_run_tags(workflow_id="wf-20240619-14418-6UhqSe", tenant=tenant,
                            requested_by="sensor amperity_workflow_sla_sensor")})

    counter = TagConcurrencyLimitsCounter(limits, [stop_run("acme")])
    assert counter.is_blocked(stop_run("acme"))
    assert not counter.is_blocked(stop_run("globex"))
    counter = TagConcurrencyLimitsCounter(limits, [stop_run("acme"), stop_run("globex")])
    assert counter.is_blocked(stop_run("initech"))


@pytest.mark.postgres
def test_prod_instance_stores_runs_and_events_in_postgres(
    repo_root: Path, tmp_path: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy/dagster.prod.yaml puts runs, events and schedules in Postgres, from env variables."""
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", "5432")
    monkeypatch.setenv("DAGSTER_PG_DB", pg_database)
    monkeypatch.setenv("DAGSTER_PG_USERNAME", "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    instance = _instance_from(repo_root / "deploy" / "dagster.prod.yaml", tmp_path)
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.run_monitoring_enabled
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert STOP_TAG_LIMIT in limits
        assert PER_TENANT_STOP_LIMIT in limits
        _run_probe_and_read_back(instance)
    finally:
        instance.dispose()
    # Read the rows straight from the database: they are in Postgres, not in a file in tmp_path.
    engine = sa.create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{pg_database}")
    try:
        with engine.connect() as conn:
            runs = conn.execute(sa.text("SELECT pipeline_name, status FROM runs")).all()
            events = conn.execute(sa.text("SELECT count(*) FROM event_logs")).scalar_one()
            tables = set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert runs == [("probe_job", "SUCCESS")]
    assert events > 0
    assert {"runs", "event_logs", "instigators", "job_ticks"} <= tables


@pytest.mark.postgres
def test_prod_instance_fails_clearly_without_its_env_variables(
    repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing DAGSTER_PG_* variable is an error naming that variable, not a silent default."""
    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB", "DAGSTER_PG_USERNAME"):
        monkeypatch.setenv(name, "x" if name != "DAGSTER_PG_PORT" else "5432")
    monkeypatch.delenv("DAGSTER_PG_PASSWORD", raising=False)
    with pytest.raises(Exception, match="DAGSTER_PG_PASSWORD"):
        _instance_from(repo_root / "deploy" / "dagster.prod.yaml", tmp_path)
