"""Connection errors name where the base URL came from: the variable, or the policy file's field."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.sla_guard import run_sla_tick
from amperity_ops.settings import TenantConfig, load_ops_config
from amperity_ops.store import Store


def _dead_url() -> str:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/api"


def test_environment_tenant_names_amperity_base_url() -> None:
    """A tenant read from the AMPERITY_* variables points at AMPERITY_BASE_URL."""
    tenant = TenantConfig.from_values({"tenant_id": "acme", "access_token": "t"})
    assert tenant.base_url_source == "AMPERITY_BASE_URL"


def test_tick_error_line_names_the_policy_files_field(tmp_path: Path) -> None:
    """The tick's tenant error line names the URL tried and tenants[1].base_url in the file."""
    dead = _dead_url()
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "tenants:\n"
        "  - {name: ok, tenant_id: ok, access_token: t, base_url: 'http://127.0.0.1:1/api',"
        " max_attempts: 1}\n"
        f"  - {{name: far, tenant_id: far, access_token: t, base_url: '{dead}',"
        " max_attempts: 1}\n"
    )
    config = load_ops_config(policy)
    assert config.tenant("far").base_url_source == f"tenants[1].base_url in {policy}"
    runtime = OpsRuntime(config=config,
                         store=Store.from_url(f"sqlite:///{tmp_path / 's.sqlite'}"))
    only_far = run_sla_tick(runtime, now=datetime.now(UTC), budget_s=30, deliver=False,
                            resume_tenant="far")
    line = only_far.errors["far"]
    assert f"tried {dead}/workflow/runs" in line, line
    assert f"check tenants[1].base_url in {policy}" in line, line
    assert "\n" not in line


@pytest.mark.parametrize("listed", [False, True])
def test_cli_one_line_error_names_the_setting(
    listed: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``runs list`` against a dead host: one line naming AMPERITY_BASE_URL or the file's field."""
    from click.testing import CliRunner

    from amperity_ops.cli import cli

    dead = _dead_url()
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        f"tenants:\n  - {{name: acme, tenant_id: acme, access_token: t, base_url: '{dead}',"
        " max_attempts: 1}\n" if listed else "alerts: [{kind: log}]\n"
    )
    for name, value in {"AMPERITY_TENANT_ID": "acme", "AMPERITY_ACCESS_TOKEN": "t",
                        "AMPERITY_BASE_URL": dead, "AMPERITY_MAX_ATTEMPTS": "1",
                        "AMPERITY_OPS_CONFIG": str(policy), "DAGSTER_HOME": str(tmp_path),
                        "AMPERITY_OPS_STORE_URL": f"sqlite:///{tmp_path / 's.sqlite'}"}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["runs", "list"], catch_exceptions=False)
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    setting = f"tenants[0].base_url in {policy}" if listed else "AMPERITY_BASE_URL"
    assert f"check {setting}" in lines[0], lines[0]
    assert dead in lines[0]
