"""The on-call commands mark simulated times: a silence's `until`, in its line and the list."""

from __future__ import annotations

import pytest

from amperity_ops.simulator import Simulator
from amperity_ops_tests.cli.conftest import RunCli


def test_silence_times_are_marked_on_the_simulator_clock(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`alerts silence` says `until ... UTC (sim)`; `alerts list` heads its column so."""
    monkeypatch.setenv("AMPERITY_OPS_CLOCK", "simulator")
    made = run_cli("alerts", "silence", "--workflow", "Courier*", "--for", "2h",
                   "--reason", "ana is on it")
    assert made.exit_code == 0, made.output
    assert " UTC (sim): ana is on it" in made.stdout
    listed = run_cli("alerts", "list")
    assert listed.exit_code == 0, listed.output
    assert "until (UTC) (sim)" in listed.stdout


def test_silence_times_are_not_marked_on_real_time(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli
) -> None:
    """On the system clock nothing is marked."""
    made = run_cli("alerts", "silence", "--workflow", "Courier*", "--for", "2h",
                   "--reason", "ana is on it")
    assert made.exit_code == 0, made.output
    assert " UTC: ana is on it" in made.stdout
    assert "(sim)" not in run_cli("alerts", "list").stdout
