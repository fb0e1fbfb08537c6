"""`runs list` shows odd records: a marker on the row, "start unknown", and what is missing."""

from __future__ import annotations

from datetime import timedelta

from amperity_ops.simulator import Faults, Simulator
from amperity_ops_tests.cli.conftest import RunCli
from amperity_ops_tests.conftest import TENANT


def test_runs_list_marks_a_run_without_created_at(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli
) -> None:
    """The queued run is listed with '!' and 'start unknown'; a line names created_at missing."""
    run = sim.tenant(TENANT).add_run(name="Daily Ecommerce Sources", type="courier.group/run",
                                     state="running", started_ago=timedelta(minutes=25))
    sim.set_faults(TENANT, Faults(odd_records=1, odd_kind="null_created_at"))
    result = run_cli("runs", "list")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if f"{run.id} !" in line)
    assert "start unknown" in line
    assert "breached" not in line  # never counted as over its SLA
    assert f"1 odd record(s), kept with what is known: {run.id} (created_at missing)" in (
        " ".join(result.stdout.split()))
