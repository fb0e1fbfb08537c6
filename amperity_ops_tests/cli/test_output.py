"""How the commands read: no empty tables, no trailing spaces, all config problems, clear 404s."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from amperity_ops.simulator import Simulator
from amperity_ops_tests.cli.conftest import RunCli
from amperity_ops_tests.conftest import TENANT


def test_empty_runs_list_is_one_sentence(cli_env: dict[str, str], run_cli: RunCli) -> None:
    """With nothing to show, `runs list` prints one sentence and no table header."""
    result = run_cli("runs", "list", "--state", "active")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    assert re.fullmatch(r"No active runs created since \d{4}-\d\d-\d\d \d\d:\d\dZ\.", lines[0])


def test_tables_have_no_trailing_spaces(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli
) -> None:
    """`runs list` and `runs stop` lines end at their last character (copy/paste, grep)."""
    run = sim.tenant(TENANT).add_run(
        name="A", type="courier.group/run", state="running", started_ago=timedelta(minutes=2)
    )
    listed = run_cli("runs", "list")
    stopped = run_cli("runs", "stop", run.id, "--reason", "r", "--dry-run")
    for result in (listed, stopped):
        assert result.exit_code == 0, result.output
        assert run.id in result.stdout
        padded = [line for line in result.stdout.splitlines() if line != line.rstrip()]
        assert padded == []


def test_dry_run_shows_runtime_against_the_sla(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli
) -> None:
    """--dry-run on a breached run says how long it has run and by how much it is over."""
    run = sim.tenant(TENANT).add_run(
        name="Late", type="courier.group/run", state="running", started_ago=timedelta(minutes=29)
    )
    result = run_cli("runs", "stop", run.id, "--reason", "review", "--dry-run")
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert "would stop" in first
    assert re.search(r"runtime 29m( \d\ds)?, 9m( \d\ds)? over max 20m; policy couriers", first)
    assert sim.tenant(TENANT).state_of(run.id) == "running"


def test_typo_workflow_id_exits_non_zero_with_one_sentence(
    cli_env: dict[str, str], run_cli: RunCli
) -> None:
    """A mistyped id is not_found: one line on stderr saying nothing was stopped, exit 1."""
    result = run_cli("runs", "stop", "wf-typo-123", "--reason", "review")
    assert result.exit_code == 1, result.output
    assert result.stdout == ""  # no table of dashes for a run that was never read
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "wf-typo-123 does not exist in tenant" in lines[0]
    assert "nothing was stopped" in lines[0]


BROKEN_POLICY = """\
policies:
  - name: x
    warn_after: soon
auto_stop: {enabeld: true}
alerts:
  - {kind: pager}
"""


def test_every_policy_problem_is_listed(
    cli_env: dict[str, str], tmp_path: Path, run_cli: RunCli
) -> None:
    """A policy file with three mistakes lists all three (runs list and doctor), no traceback."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(BROKEN_POLICY)
    listed = run_cli("--config", str(bad), "runs", "list")
    doctor = run_cli("--config", str(bad), "doctor")
    assert listed.exit_code == 1
    assert doctor.exit_code == 1
    for output in (listed.stderr, doctor.stdout):
        assert "Traceback" not in output
        for field in ("policies[0].warn_after", "auto_stop.enabeld", "alerts[0]"):
            assert field in output, output
    assert "3 problems" in doctor.stdout


def test_doctor_bad_token_hint_and_aligned_columns(
    cli_env: dict[str, str], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 401 names the variable to check; every detail starts in the same column."""
    monkeypatch.setenv("AMPERITY_ACCESS_TOKEN", "wrong-token-0123456789")
    result = run_cli("doctor")
    assert result.exit_code == 1
    api = next(line for line in result.stdout.splitlines() if " API " in line)
    assert "401" in api
    assert "check AMPERITY_ACCESS_TOKEN" in api
    assert "wrong-token-0123456789" not in result.output


def test_runs_list_bad_token_gives_the_same_hint_as_doctor(
    cli_env: dict[str, str], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 401 from `runs list` is one line naming the variable to check, like doctor's."""
    monkeypatch.setenv("AMPERITY_ACCESS_TOKEN", "wrong-token-0123456789")
    result = run_cli("runs", "list")
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: Amperity API error: ")
    assert "401" in line
    assert line.endswith("; check AMPERITY_ACCESS_TOKEN (the tenant's token in the policy file "
                         "or environment)")
    assert "wrong-token-0123456789" not in result.output


def test_doctor_warns_without_app_url_and_aligns_columns(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli
) -> None:
    """No app_url is a warning about missing links; the detail column lines up on every line."""
    result = run_cli("doctor")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    links = next(line for line in lines if f"tenant {TENANT} links" in line)
    assert links.startswith("warn")
    assert "no app_url" in links
    assert "'Open in Amperity' links" in links
    detail_column = re.compile(r"^\S+\s+\S.*?\S\s{2,}(?=\S)")  # status, subject, gap
    starts = {match.end() for line in lines if (match := detail_column.search(line))}
    assert len(starts) == 1, result.stdout


def test_simulated_times_are_marked_in_runs_list(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the simulator's clock, `runs list` says so and marks its since/started times (sim)."""
    monkeypatch.setenv("AMPERITY_OPS_CLOCK", "simulator")
    empty = run_cli("runs", "list", "--state", "active")
    assert empty.exit_code == 0, empty.output
    lines = empty.stdout.strip().splitlines()
    assert lines[0].startswith("Clock: simulator clock; times marked (sim) are simulated (sim now ")
    assert re.fullmatch(r"No active runs created since \S+ \d\d:\d\dZ \(sim\)\.", lines[1])
    sim.tenant(TENANT).add_run(name="A", type="courier.group/run", state="running",
                               started_ago=timedelta(minutes=2))
    listed = run_cli("runs", "list")
    assert listed.exit_code == 0, listed.output
    assert re.search(r"Workflow runs created since \S+ \d\d:\d\dZ \(sim\)", listed.stdout)
    assert "started (sim)" in listed.stdout
