"""The code location loads, offline and without AMPERITY_* variables, with its public names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey, DefaultScheduleStatus, DefaultSensorStatus

from amperity_ops.definitions import defs

REPO = Path(__file__).resolve().parents[2]


def test_every_definition_resolves_with_its_public_name() -> None:
    """Jobs, schedules, sensors, assets and checks resolve under the names users rely on."""
    stop_job = defs.resolve_job_def("stop_amperity_workflow_run")
    assert stop_job.tags.get("amperity-ops/job") == "stop"
    for name in ("amperity_poll_job", "amperity_inventory_job"):
        assert defs.resolve_job_def(name).name == name
    poll = defs.resolve_schedule_def("amperity_poll_schedule")
    assert poll.default_status is DefaultScheduleStatus.RUNNING
    assert poll.job_name == "amperity_poll_job"
    sla = defs.resolve_sensor_def("amperity_workflow_sla_sensor")
    assert sla.minimum_interval_seconds == 60
    assert sla.default_status is DefaultSensorStatus.RUNNING
    assert [t.job_name for t in sla.targets] == ["stop_amperity_workflow_run"]
    defs.resolve_sensor_def("amperity_ingest_sensor")
    defs.resolve_schedule_def("amperity_inventory_schedule")
    keys = set(defs.resolve_all_asset_keys())
    assert {
        AssetKey(["amperity", n])
        for n in ("workflow_runs", "ingest_jobs", "segments", "campaigns", "audit_events")
    } <= keys
    graph = defs.resolve_asset_graph()
    checks = {k.name for k in graph.asset_check_keys}
    assert {
        "runs_within_sla",
        "no_failed_runs_in_window",
        "all_tenants_polled",
        "ingest_error_rate_within_threshold",
        "ingest_reject_rate_within_threshold",
        "no_failed_feeds",
    } <= checks
    all_jobs = {j.name for j in defs.resolve_all_job_defs()}
    assert "stop_amperity_workflow_run" in all_jobs


def test_stop_job_config_requires_workflow_id_and_reason() -> None:
    """The Launchpad shows workflow_id and reason as required, tenant and dry_run optional."""
    job = defs.resolve_job_def("stop_amperity_workflow_run")
    fields = (
        job.run_config_schema.config_type.fields["ops"]
        .config_type.fields[  # type: ignore[attr-defined]
            "stop_workflow_run"
        ]
        .config_type.fields["config"]
        .config_type.fields
    )
    assert fields["workflow_id"].is_required
    assert fields["reason"].is_required
    assert not fields["tenant"].is_required
    assert not fields["dry_run"].is_required


@pytest.mark.slow
def test_dagster_validates_the_workspace_in_a_bare_environment(tmp_path: Path) -> None:
    """`dagster definitions validate` passes with no AMPERITY_* variable and no network."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path),
    }
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful" in done.stdout + done.stderr
