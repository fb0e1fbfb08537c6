"""Several tenants from one policy file, and OAuth client credentials, through the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from amperity_ops.simulator import ManualClock, Simulator, TenantSpec
from amperity_ops_tests.cli.conftest import RunCli

TOKEN = "multi-token"


@pytest.fixture
def two_tenants() -> Iterator[tuple[Simulator, str]]:
    """A simulator serving a production tenant and its sandbox (quiet worlds, no limiter)."""
    specs = [
        TenantSpec(
            tenant_id=tenant,
            static_tokens=(TOKEN,),
            client_id="cid",
            client_secret="csecret-value",
            seed=seed,
            schedules=False,
        )
        for seed, tenant in enumerate(("acme", "acme-sb-123"))
    ]
    sim = Simulator(specs, clock=ManualClock(datetime.now(UTC)), rate_limit_rps=None)
    with sim.serve() as base_url:
        yield sim, base_url


@pytest.fixture
def multi_policy(
    two_tenants: tuple[Simulator, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A policy file listing both tenants, the secret taken from the environment."""
    _, base_url = two_tenants
    path = tmp_path / "multi.yaml"
    path.write_text(
        "tenants:\n"
        f"  - {{name: prod, tenant_id: acme, base_url: '{base_url}',"
        " access_token: {env: MULTI_TOKEN}}\n"
        f"  - {{name: sandbox, tenant_id: acme-sb-123, base_url: '{base_url}',"
        " access_token: {env: MULTI_TOKEN}}\n"
    )
    for name in ("AMPERITY_TENANT_ID", "AMPERITY_ACCESS_TOKEN", "AMPERITY_OPS_CLOCK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MULTI_TOKEN", TOKEN)
    monkeypatch.setenv("AMPERITY_OPS_CONFIG", str(path))
    monkeypatch.setenv("AMPERITY_OPS_STORE_URL", f"sqlite:///{tmp_path / 'store.sqlite'}")
    monkeypatch.setenv("COLUMNS", "200")
    return path


def test_runs_list_covers_every_tenant_with_a_tenant_column(
    two_tenants: tuple[Simulator, str], multi_policy: Path, run_cli: RunCli
) -> None:
    """Without --tenant every tenant is listed and each row names its tenant."""
    sim, _ = two_tenants
    prod = sim.tenant("acme").add_run(state="running", started_ago=timedelta(minutes=3))
    sandbox = sim.tenant("acme-sb-123").add_run(state="failed", started_ago=timedelta(hours=1))
    result = run_cli("runs", "list")
    assert result.exit_code == 0, result.output
    prod_line = next(line for line in result.stdout.splitlines() if prod.id in line)
    sandbox_line = next(line for line in result.stdout.splitlines() if sandbox.id in line)
    assert prod_line.split()[0] == "prod"
    assert sandbox_line.split()[0] == "sandbox"
    only_sandbox = run_cli("runs", "list", "--tenant", "sandbox").stdout
    assert sandbox.id in only_sandbox
    assert prod.id not in only_sandbox


def test_runs_stop_acts_on_the_named_tenant_only(
    two_tenants: tuple[Simulator, str], multi_policy: Path, run_cli: RunCli
) -> None:
    """--tenant picks whose run is stopped; the wrong tenant is a not-found error (exit 1)."""
    sim, _ = two_tenants
    run = sim.tenant("acme-sb-123").add_run(state="running")
    wrong = run_cli("runs", "stop", run.id, "--reason", "test", "--tenant", "prod")
    assert wrong.exit_code == 1, wrong.output
    assert f"{run.id} does not exist in tenant prod" in wrong.stderr
    assert sim.tenant("acme-sb-123").state_of(run.id) == "running"
    right = run_cli(
        "runs", "stop", run.id, "--reason", "test", "--tenant", "sandbox", "--wait", "0"
    )
    assert sim.tenant("acme-sb-123").state_of(run.id) == "stopping"
    assert "stop sent" in right.stdout
    # Not stopped within --wait 0: said on one line, exit 1, so scripts notice.
    assert right.exit_code == 1
    assert "still stopping" in right.stderr


def test_doctor_checks_each_tenant_and_names_a_missing_secret(
    two_tenants: tuple[Simulator, str],
    multi_policy: Path,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """doctor has lines for every tenant; an unset secret variable is named, never its value."""
    result = run_cli("doctor")
    assert result.exit_code == 0, result.output
    assert "tenant prod API" in result.stdout
    assert "tenant sandbox API" in result.stdout
    monkeypatch.delenv("MULTI_TOKEN")
    missing = run_cli("doctor")
    assert missing.exit_code == 1
    fails = [line for line in missing.stdout.splitlines() if line.startswith("fail")]
    assert len(fails) == 2
    assert all("MULTI_TOKEN not set" in line for line in fails)


def test_doctor_with_oauth_client_credentials(
    two_tenants: tuple[Simulator, str],
    tmp_path: Path,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a client id and secret the API line says OAuth, and the secret is never printed."""
    _, base_url = two_tenants
    for name in ("AMPERITY_ACCESS_TOKEN", "AMPERITY_OPS_CONFIG", "AMPERITY_OPS_CLOCK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AMPERITY_TENANT_ID", "acme")
    monkeypatch.setenv("AMPERITY_BASE_URL", base_url)
    monkeypatch.setenv("AMPERITY_CLIENT_ID", "cid")
    monkeypatch.setenv("AMPERITY_CLIENT_SECRET", "csecret-value")
    monkeypatch.setenv("AMPERITY_OPS_STORE_URL", f"sqlite:///{tmp_path / 's.sqlite'}")
    result = run_cli("doctor")
    assert result.exit_code == 0, result.output
    api_line = next(line for line in result.stdout.splitlines() if "API" in line)
    assert api_line.startswith("ok")
    assert "OAuth client credentials" in api_line
    assert "csecret-value" not in result.output
