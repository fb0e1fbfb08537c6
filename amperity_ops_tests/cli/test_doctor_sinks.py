"""``doctor`` catches silent pages: unset sink secrets and bad URLs fail, naming the sink and the
variable; ``--send-test-alert`` sends one TEST message through each sink (local receivers)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from amperity_ops_tests.alerts.services import Services, running_services
from amperity_ops_tests.alerts.smtp_server import SmtpServer, make_certificate, smtp_server
from amperity_ops_tests.cli.conftest import POLICY, RunCli


@pytest.fixture
def services() -> Iterator[Services]:
    with running_services() as started:
        yield started


def _policy(tmp_path: Path, alerts: str) -> Path:
    path = tmp_path / "sinks.yaml"
    path.write_text(POLICY.replace("alerts:\n  - {kind: log}\n", f"alerts:\n{alerts}"))
    return path


def _lines(output: str, prefix: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(prefix)]


def test_unset_pagerduty_routing_key_fails_naming_sink_and_variable(
    cli_env: dict[str, str], run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: {env: PAGERDUTY_ROUTING_KEY} unset is a fail and exit 1, not ok."""
    monkeypatch.delenv("PAGERDUTY_ROUTING_KEY", raising=False)
    policy = _policy(tmp_path, "  - {kind: pagerduty, routing_key: {env: PAGERDUTY_ROUTING_KEY}}\n")
    result = run_cli("--config", str(policy), "doctor")
    assert result.exit_code == 1
    (line,) = [line for line in result.stdout.splitlines() if "alert sink" in line]
    assert line.startswith("fail")
    assert "alert sink pagerduty" in line
    assert "routing_key: PAGERDUTY_ROUTING_KEY is not set" in line
    assert result.stderr.strip() == "Error: 1 check failed"


def test_a_webhook_url_without_scheme_fails_without_showing_it(
    cli_env: dict[str, str], run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret URL that is not http(s) fails, naming the variable, never printing the value."""
    monkeypatch.setenv("HOOK_URL", "hooks.example.test/T0/SECRETPATH")
    policy = _policy(tmp_path, "  - {kind: webhook, name: ops-hook, url: {env: HOOK_URL}}\n")
    result = run_cli("--config", str(policy), "doctor")
    assert result.exit_code == 1
    (line,) = [line for line in result.stdout.splitlines() if "alert sink" in line]
    assert "alert sink ops-hook" in line
    assert "from HOOK_URL" in line
    assert "SECRETPATH" not in result.output


def test_send_test_alert_through_every_kind_of_sink(
    cli_env: dict[str, str], run_cli: RunCli, tmp_path: Path, services: Services,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """One TEST message per sink, each reported ok; incident sinks are resolved right after."""
    cert, key = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    base = services.base_url
    monkeypatch.setenv("PD_KEY", "pd-routing-key")
    monkeypatch.setenv("GENIE_KEY", services.opsgenie_key)
    monkeypatch.setenv("SLACK_BOT_TOKEN", services.slack_token)
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret-pass")
    with smtp_server(SmtpServer(tls_context=context)) as smtp:
        policy = _policy(tmp_path, f"""\
  - {{kind: webhook, url: "{base}/hook"}}
  - {{kind: slack_bot, bot_token: {{env: SLACK_BOT_TOKEN}}, channel: "#oncall",
     api_url: "{base}/slack/api"}}
  - {{kind: pagerduty, routing_key: {{env: PD_KEY}}, url: "{base}/pd"}}
  - {{kind: opsgenie, api_key: {{env: GENIE_KEY}}, url: "{base}/opsgenie/v2/alerts"}}
  - {{kind: teams, webhook_url: "{base}/teams"}}
  - {{kind: email, host: 127.0.0.1, port: {smtp.port}, from: ops@example.test,
      to: [oncall@example.test], username: alerts@example.test,
      password: {{env: SMTP_PASSWORD}}, ca_file: "{cert}"}}
  - {{kind: log}}
""")
        result = run_cli("--config", str(policy), "doctor", "--send-test-alert")
    assert result.exit_code == 0, result.output
    sinks = [line for line in result.stdout.splitlines() if "alert sink" in line]
    assert len(sinks) == 7
    assert all(line.startswith("ok") for line in sinks), result.stdout
    assert any("pagerduty: TEST message sent and resolved again" in line for line in sinks)
    pd = services.bodies("/pd")
    assert [e["event_action"] for e in pd] == ["trigger", "resolve"]
    assert pd[0]["payload"]["summary"].startswith("TEST: ")
    assert services.bodies("/hook")[0]["title"].startswith("TEST: ")
    assert services.slack_messages["1.000100"]["text"].startswith(":warning: TEST: ")
    assert services.opsgenie_open == set()  # created, then closed
    (mail,) = smtp.mails
    assert str(mail.message["Subject"]).strip().startswith("[amperity-ops] TEST: ")
    assert "pd-routing-key" not in result.output


def test_send_test_alert_failures_exit_non_zero_naming_each_sink(
    cli_env: dict[str, str], run_cli: RunCli, tmp_path: Path, services: Services,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """A receiver that answers 500 and an unset variable: both sinks fail by name, exit 1."""
    services.down = True
    monkeypatch.delenv("TEAMS_WEBHOOK_URL", raising=False)
    policy = _policy(tmp_path, f"""\
  - {{kind: webhook, name: ops-hook, url: "{services.base_url}/hook"}}
  - {{kind: teams, webhook_url: {{env: TEAMS_WEBHOOK_URL}}}}
""")
    result = run_cli("--config", str(policy), "doctor", "--send-test-alert")
    assert result.exit_code == 1
    failed = _lines(result.stdout, "fail")
    assert any("alert sink ops-hook" in line and "HTTP 500" in line for line in failed)
    assert any("alert sink teams" in line and "TEAMS_WEBHOOK_URL is not set" in line
               for line in failed)
    assert result.stderr.strip() == "Error: 2 checks failed"
    assert services.paths() == ["/hook"]  # the sink without its secret was not tried
