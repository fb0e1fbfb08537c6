"""`amperity-ops catalog refresh` over the simulator on a real socket."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from amperity_ops.simulator import Simulator
from amperity_ops_tests.cli.conftest import RunCli
from amperity_ops_tests.conftest import TENANT


def test_catalog_refresh_writes_the_tenant_catalog_where_the_code_location_reads_it(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli
) -> None:
    """The file lands under $DAGSTER_HOME/amperity_catalog and the output counts what it holds."""
    sim.tenant(TENANT).add_run(name="Courier Group A", state="succeeded",
                               started_ago=timedelta(hours=2), ended_ago=timedelta(hours=1),
                               ingest_tables=("Orders",))
    result = run_cli("catalog", "refresh", "--days", "2")
    assert result.exit_code == 0, result.output
    assert "acme: 1 workflows" in result.stdout
    path = Path(cli_env["DAGSTER_HOME"]) / "amperity_catalog" / "acme.json"
    data = json.loads(path.read_text())
    assert [w["name"] for w in data["workflows"]] == ["Courier Group A"]
    assert [t["name"] for t in data["tables"]] == ["Orders"]


def test_catalog_refresh_of_an_unknown_tenant_is_one_line(
    cli_env: dict[str, str], run_cli: RunCli
) -> None:
    """An unknown --tenant is one line naming the known tenants, exit 1, no traceback."""
    result = run_cli("catalog", "refresh", "--tenant", "nope")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "nope" in lines[0]
    assert "Traceback" not in result.stderr
