"""workspace.yaml loads the code location, and the run queue's limit names the stop job's tag."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from amperity_ops.definitions import defs


def _stop_limits(instance_file: Path) -> list[dict[str, object]]:
    data = yaml.safe_load(instance_file.read_text())
    return list(data["concurrency"]["runs"]["tag_concurrency_limits"])


@pytest.mark.slow
def test_workspace_yaml_validates_without_any_amperity_setting(
    repo_root: Path, tmp_path: Path
) -> None:
    """`dagster definitions validate -w workspace.yaml` passes with no AMPERITY_* variable set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMPERITY_")}
    env["DAGSTER_HOME"] = str(tmp_path)
    (tmp_path / "dagster.yaml").write_text((repo_root / "dagster.yaml").read_text())
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "All code locations passed validation" in done.stderr + done.stdout


def test_queue_limit_matches_the_stop_job_tag(repo_root: Path) -> None:
    """Both instance files cap the tag the stop job really carries, at 2 concurrent runs."""
    stop_job = defs.resolve_job_def("stop_amperity_workflow_run")
    tags = stop_job.tags
    for instance_file in (repo_root / "dagster.yaml", repo_root / "deploy" / "dagster.prod.yaml"):
        limits = _stop_limits(instance_file)
        capped = [lim for lim in limits if tags.get(str(lim["key"])) == lim.get("value")]
        assert capped == [{"key": "amperity-ops/job", "value": "stop", "limit": 2}], instance_file
