"""The amperity-ops commands against the simulator over a real socket, as a user runs them."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result

from amperity_ops.simulator import Faults, Simulator
from amperity_ops.store import Store
from amperity_ops_tests.cli.conftest import RunCli
from amperity_ops_tests.conftest import TENANT, TOKEN


def assert_one_line_error(result: Result, *fragments: str) -> str:
    """Exit 1, one line on stderr containing every fragment, and no traceback anywhere."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_help_lists_every_command(run_cli: RunCli) -> None:
    """`amperity-ops --help` names runs, backfill, doctor and simulator."""
    result = run_cli("--help")
    assert result.exit_code == 0
    for name in ("runs", "backfill", "doctor", "simulator"):
        assert name in result.stdout


def test_runs_list_shows_runs_with_state_runtime_and_sla(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli
) -> None:
    """The table shows each run's id, name, state and the SLA verdict the sensor would reach."""
    world = sim.tenant(TENANT)
    late = world.add_run(
        name="Daily Ecommerce Sources",
        type="courier.group/run",
        state="running",
        started_ago=timedelta(minutes=25),
    )
    fine = world.add_run(
        name="Paid Media Audiences",
        type="orchestration.group/run",
        state="succeeded",
        started_ago=timedelta(hours=2),
        ended_ago=timedelta(hours=1),
    )
    result = run_cli("runs", "list")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert late.id in out
    assert fine.id in out
    assert "Daily Ecommerce Sources" in out
    late_line = next(line for line in out.splitlines() if late.id in line)
    assert "running" in late_line
    assert "breached" in late_line
    assert "+5m (max 20m, stop)" in late_line
    fine_line = next(line for line in out.splitlines() if fine.id in line)
    assert "succeeded" in fine_line
    assert "1h" in fine_line
    assert "2 runs" in out


def test_runs_list_filters_by_state_and_limit(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli
) -> None:
    """--state and --since filter, --limit keeps the newest; active-only looks back a week."""
    world = sim.tenant(TENANT)
    running = world.add_run(state="running", started_ago=timedelta(minutes=1))
    failed = world.add_run(state="failed", started_ago=timedelta(minutes=30))
    older = world.add_run(state="succeeded", started_ago=timedelta(hours=3))
    active = run_cli("runs", "list", "--state", "active").stdout
    assert running.id in active
    assert failed.id not in active
    assert older.id not in active
    limited = run_cli("runs", "list", "--limit", "2").stdout
    assert running.id in limited
    assert failed.id in limited
    assert older.id not in limited
    assert "2 of 3 runs" in limited
    stuck = world.add_run(state="running", started_ago=timedelta(days=3))
    assert stuck.id in run_cli("runs", "list", "--state", "active").stdout  # 7 days back
    assert stuck.id not in run_cli("runs", "list").stdout  # 24 hours back
    recent = run_cli("runs", "list", "--since", "2h").stdout
    assert older.id not in recent
    assert failed.id in recent


def test_runs_stop_stops_a_running_run_and_records_it(
    sim: Simulator, cli_env: dict[str, str], store_url: str, run_cli: RunCli
) -> None:
    """`runs stop` stops the run in Amperity, prints before/after, and writes the stop ledger."""
    run = sim.tenant(TENANT).add_run(name="Loyalty Program Feed", state="running")
    result = run_cli("runs", "stop", run.id, "--reason", "stuck for hours", "--poll-every", "0.05")
    assert result.exit_code == 0, result.output
    assert sim.tenant(TENANT).state_of(run.id) == "stopped"
    out = result.stdout
    assert "state before" in out
    assert "running" in out
    assert "state after" in out
    assert "stopped" in out
    assert "stuck for hours" in out
    assert "cli:" in out
    store = Store.from_url(store_url)
    try:
        records = store.stop_records(TENANT)
    finally:
        store.close()
    assert [(r.workflow_id, r.reason) for r in records] == [(run.id, "stuck for hours")]


def test_runs_stop_dry_run_sends_nothing(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli
) -> None:
    """--dry-run says it would stop the run and leaves it running."""
    run = sim.tenant(TENANT).add_run(state="running")
    result = run_cli("runs", "stop", run.id, "--reason", "test", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would stop" in result.stdout
    assert sim.tenant(TENANT).state_of(run.id) == "running"


def test_runs_stop_leaves_an_unknown_state_alone(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli
) -> None:
    """A state Amperity added without notice is reported and never stopped."""
    run = sim.tenant(TENANT).add_run(state="rehydrating")
    result = run_cli("runs", "stop", run.id, "--reason", "test")
    assert result.exit_code == 0, result.output
    assert "not recognised" in result.stdout
    assert sim.tenant(TENANT).state_of(run.id) == "rehydrating"


def test_runs_stop_requires_a_reason(cli_env: dict[str, str], run_cli: RunCli) -> None:
    """Without --reason the command is a usage error (exit 2) and nothing is sent."""
    result = run_cli("runs", "stop", "wf-20261101-00001-AAAAAA")
    assert result.exit_code == 2
    assert "--reason" in result.stderr


def test_bad_workflow_id_is_one_line(cli_env: dict[str, str], run_cli: RunCli) -> None:
    """An id that could address another resource is refused with one line, not a traceback."""
    result = run_cli("runs", "stop", "wf-1/../../x", "--reason", "test")
    assert_one_line_error(result, "invalid value", "wf-1/../../x")


def test_unknown_tenant_is_one_line(cli_env: dict[str, str], run_cli: RunCli) -> None:
    """A tenant the policy file does not list is named, with the known ones."""
    result = run_cli("runs", "list", "--tenant", "nope")
    assert_one_line_error(result, "nope", TENANT)


def test_invalid_policy_file_names_file_and_field(
    cli_env: dict[str, str], tmp_path: Path, run_cli: RunCli
) -> None:
    """A policy file error names the file and the field, on one line."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("policies:\n  - name: x\n    warn_after: soon\n")
    result = run_cli("--config", str(bad), "runs", "list")
    assert_one_line_error(result, "configuration error", "bad.yaml", "policies[0].warn_after")


def test_missing_policy_file_is_one_line(cli_env: dict[str, str], run_cli: RunCli) -> None:
    """--config pointing nowhere is a configuration error naming the path and --config only."""
    result = run_cli("--config", "/nonexistent/policy.yaml", "runs", "list")
    line = assert_one_line_error(
        result, "configuration error", "/nonexistent/policy.yaml", "given by --config"
    )
    assert "AMPERITY_OPS_CONFIG" not in line


def test_missing_policy_file_from_the_variable_names_the_variable(
    cli_env: dict[str, str], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AMPERITY_OPS_CONFIG pointing nowhere says the path came from that variable."""
    monkeypatch.setenv("AMPERITY_OPS_CONFIG", "/nonexistent/env-policy.yaml")
    result = run_cli("runs", "list")
    assert_one_line_error(result, "/nonexistent/env-policy.yaml", "given by AMPERITY_OPS_CONFIG")


def test_rejected_token_is_one_line_without_the_token(
    cli_env: dict[str, str], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 401 says so with the request id; the token never appears in the output."""
    monkeypatch.setenv("AMPERITY_ACCESS_TOKEN", "wrong-token-0123456789")
    result = run_cli("runs", "list")
    assert_one_line_error(result, "Amperity API error", "401")
    assert "wrong-token-0123456789" not in result.output
    assert TOKEN not in result.output


def test_expired_token_says_when_and_what_to_do(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JWT past its exp fails before sending, saying when it expired; the JWT is not shown."""
    token = sim.mint_token(TENANT, expires_at=sim.now() - timedelta(hours=1))
    monkeypatch.setenv("AMPERITY_ACCESS_TOKEN", token)
    result = run_cli("runs", "list")
    assert_one_line_error(result, "Amperity API error", "expired")
    assert token not in result.output


def test_unreachable_api_is_one_line(
    cli_env: dict[str, str], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listening at the base URL is a connection error on one line."""
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AMPERITY_BASE_URL", f"http://127.0.0.1:{port}/api")
    # The real client, told not to retry, so the test does not sit through the backoff.
    monkeypatch.setenv("AMPERITY_MAX_ATTEMPTS", "1")
    result = run_cli("runs", "list")
    line = assert_one_line_error(result)
    assert "connect" in line.lower()


def test_server_errors_after_retries_are_one_line(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 5xx that outlasts the retries is an API error line with its status, not a traceback."""
    sim.set_faults(TENANT, Faults(server_errors=5))
    monkeypatch.setenv("AMPERITY_MAX_ATTEMPTS", "1")
    result = run_cli("runs", "list")
    assert_one_line_error(result, "Amperity API error", "500")


def test_rate_limit_storm_after_retries_is_one_line(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 429 that outlasts the retries says the tenant's rate limit was hit."""
    sim.set_faults(TENANT, Faults(rate_limit_storm=5))
    monkeypatch.setenv("AMPERITY_MAX_ATTEMPTS", "1")
    result = run_cli("runs", "stop", "wf-20261101-00001-AAAAAA", "--reason", "test")
    assert_one_line_error(result, "Amperity API error", "429")


@pytest.mark.postgres
def test_unreachable_store_is_one_line_without_the_password(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that cannot be opened is a store error; the URL's password is masked."""
    monkeypatch.setenv(
        "AMPERITY_OPS_STORE_URL", "postgresql+psycopg2://ops:hunter2secret@127.0.0.1:1/ops"
    )
    run = sim.tenant(TENANT).add_run(state="running")
    result = run_cli("runs", "stop", run.id, "--reason", "test")
    assert_one_line_error(result, "history store error")
    assert "hunter2secret" not in result.output
    assert sim.tenant(TENANT).state_of(run.id) == "running"


def test_a_store_failing_mid_command_names_the_store(
    sim: Simulator, cli_env: dict[str, str], store_url: str, run_cli: RunCli
) -> None:
    """A store that opens but fails mid-command: one line naming which store, no traceback."""
    from amperity_ops.store import Store

    Store.from_url(store_url).close()  # a store at head, as any earlier command leaves it
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:  # broken behind our back (restored from a partial backup)
        conn.execute(sa.text("DROP TABLE ao_stop_ledger"))
    engine.dispose()
    run = sim.tenant(TENANT).add_run(state="running")
    result = run_cli("runs", "stop", run.id, "--reason", "test")
    assert_one_line_error(result, "history store error", "ao_stop_ledger",
                          f"(history store {store_url})")
    assert sim.tenant(TENANT).state_of(run.id) == "running"  # no stop without its ledger row


def test_backfill_loads_history_into_the_store(
    sim: Simulator, cli_env: dict[str, str], store_url: str, run_cli: RunCli
) -> None:
    """backfill stores every run since --since and reports the count per tenant."""
    world = sim.tenant(TENANT)
    for hours in (1, 30, 60):
        world.add_run(
            state="succeeded",
            started_ago=timedelta(hours=hours),
            ended_ago=timedelta(hours=hours) - timedelta(minutes=10),
        )
    world.add_run(state="succeeded", started_ago=timedelta(days=5), ended_ago=timedelta(days=4))
    result = run_cli("backfill", "--since", "3d")
    assert result.exit_code == 0, result.output
    assert f"{TENANT}: 3 runs" in result.stdout
    store = Store.from_url(store_url)
    try:
        assert store.count_runs(TENANT) == 3
    finally:
        store.close()


def test_backfill_refuses_a_future_since(cli_env: dict[str, str], run_cli: RunCli) -> None:
    """--since in the future is a usage error naming the option."""
    result = run_cli("backfill", "--since", "2999-01-01T00:00Z")
    assert result.exit_code == 2
    assert "--since" in result.stderr


def test_doctor_all_ok(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a valid policy, store and token, every line is ok or warn, and the exit is 0."""
    token = sim.mint_token(TENANT, expires_in=timedelta(days=30))
    monkeypatch.setenv("AMPERITY_ACCESS_TOKEN", token)
    monkeypatch.setenv("AMPERITY_APP_URL", "https://acme.example.com")
    result = run_cli("doctor")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    subjects = [re.split(r"\s{2,}", line[5:], maxsplit=1)[0] for line in lines]
    assert subjects == [
        "policy file",
        "history store",
        f"tenant {TENANT} token",
        f"tenant {TENANT} API",
        f"tenant {TENANT} rate budget",
        f"tenant {TENANT} links",
    ]
    assert all(line.startswith("ok") for line in lines), result.stdout
    assert token not in result.output


def test_doctor_fails_on_an_expired_token_and_warns_on_one_expiring_soon(
    sim: Simulator, cli_env: dict[str, str], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An expired token is a fail (exit 1); one expiring within 7 days is a warning."""
    monkeypatch.setenv(
        "AMPERITY_ACCESS_TOKEN", sim.mint_token(TENANT, expires_in=timedelta(days=2))
    )
    soon = run_cli("doctor")
    assert soon.exit_code == 0, soon.output
    assert any(line.startswith("warn") and "token" in line for line in soon.stdout.splitlines())
    expired = sim.mint_token(TENANT, expires_at=sim.now() - timedelta(minutes=5))
    monkeypatch.setenv("AMPERITY_ACCESS_TOKEN", expired)
    result = run_cli("doctor")
    assert result.exit_code == 1
    assert any(line.startswith("fail") and "expired" in line for line in result.stdout.splitlines())
    assert result.stderr.strip() == "Error: 1 check failed"
    assert expired not in result.output


def test_doctor_reports_a_broken_policy_file(
    cli_env: dict[str, str], tmp_path: Path, run_cli: RunCli
) -> None:
    """A policy file with an unknown key fails its line and suggests the right key."""
    bad = tmp_path / "typo.yaml"
    bad.write_text("auto_stop: {enabeld: true}\n")
    result = run_cli("--config", str(bad), "doctor")
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith("fail")
    assert "auto_stop.enabeld" in first
    assert "enabled" in first


def test_alerts_silence_list_unsilence(cli_env: dict[str, str], run_cli: RunCli) -> None:
    """``alerts silence`` records who and why, ``list`` shows it, ``unsilence`` lifts it."""
    done = run_cli("alerts", "silence", "--workflow", "Courier*", "--for", "2h",
                   "--reason", "ana handles it", "--hold-stops")
    assert done.exit_code == 0, done.output
    assert done.output.startswith("silence #1: workflow 'Courier*' silenced by cli:")
    assert "(stops held)" in done.output
    listed = run_cli("alerts", "list")
    assert "active" in listed.output
    assert "ana handles it" in listed.output
    assert "held" in listed.output
    lifted = run_cli("alerts", "unsilence", "1")
    assert "lifted by cli:" in lifted.output
    assert "lifted" in run_cli("alerts", "list").output
    bad = run_cli("alerts", "silence", "--for", "2h", "--reason", "x")
    assert bad.exit_code == 1
    assert "give a run id or a workflow glob" in bad.stderr
    assert "Traceback" not in bad.output + bad.stderr
