"""Email (SMTP), Opsgenie and the Slack bot: against local receivers the tests start, through
the outbox, so each keeps at-least-once, never-twice delivery."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from amperity_ops.alerts import (
    EmailSink,
    OpsgenieSink,
    SinkError,
    SlackBotSink,
    build_sinks,
    email_message,
    opsgenie_alert,
)
from amperity_ops.core import AlertLevel
from amperity_ops.services.outbox import deliver_due
from amperity_ops.settings import ConfigError, OpsConfig, SecretRef, load_ops_config
from amperity_ops.store import Store
from amperity_ops_tests.alerts.conftest import T0, message
from amperity_ops_tests.alerts.services import Services, running_services
from amperity_ops_tests.alerts.smtp_server import SmtpServer, make_certificate, smtp_server

TENANTS = [{"tenant_id": "acme", "access_token": "t"}]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return context


@pytest.fixture
def services() -> Iterator[Services]:
    with running_services() as started:
        yield started


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


def _email_sink(server: SmtpServer, cert: Path, *, security: str = "starttls",
                password: str = "s3cret-pass") -> EmailSink:
    return EmailSink("email", host="127.0.0.1", port=server.port, sender="ops@example.test",
                     to=("oncall@example.test", "lead@example.test"), security=security,  # type: ignore[arg-type]
                     username=SecretRef.model_validate("alerts@example.test"),
                     password=SecretRef.model_validate(password), timeout=5.0,
                     ca_file=str(cert))


# -- email ----------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_email_over_tls_with_login(certificate: tuple[Path, Path], security: str,
                                   http: httpx.Client) -> None:
    """The mail goes over TLS (STARTTLS or implicit), logged in, to every recipient."""
    state = SmtpServer(mode=security, tls_context=_server_context(certificate))  # type: ignore[arg-type]
    with smtp_server(state):
        _email_sink(state, certificate[0], security=security).send(
            message(level=AlertLevel.BREACHED), http)
    (mail,) = state.mails
    assert mail.tls
    assert mail.user == "alerts@example.test"
    assert mail.recipients == ["oncall@example.test", "lead@example.test"]
    subject = "[amperity-ops] BREACHED: Courier Group Nightly has run 2h 05m"
    assert mail.message["Subject"] == subject
    body = mail.message.get_content()
    assert "Runtime      2h 05m" in body or ("Runtime" in body and "2h 05m" in body)
    assert "Open in Amperity: https://acme.amperity.test/#/workflows/wf-1" in body


def test_email_wrong_password_is_a_sink_error_without_the_secret(
        certificate: tuple[Path, Path], http: httpx.Client) -> None:
    """A refused login raises SinkError naming the sink and server, never the password."""
    state = SmtpServer(tls_context=_server_context(certificate))
    with smtp_server(state), pytest.raises(SinkError) as caught:
        _email_sink(state, certificate[0], password="wrong-pass-XYZ").send(message(), http)
    assert str(caught.value).startswith(f"email: SMTP 127.0.0.1:{state.port}: SMTPAuth")
    assert "wrong-pass-XYZ" not in str(caught.value)
    assert state.mails == []


def test_email_untrusted_certificate_is_refused(certificate: tuple[Path, Path],
                                                http: httpx.Client, tmp_path: Path) -> None:
    """STARTTLS verifies the server's certificate: an unknown CA is a SinkError, no mail sent."""
    other_cert, _ = make_certificate(tmp_path)
    state = SmtpServer(tls_context=_server_context(certificate))
    with smtp_server(state), pytest.raises(SinkError, match="SSLCertVerificationError"):
        _email_sink(state, other_cert).send(message(), http)
    assert state.mails == []


def test_email_ids_thread_a_run_and_repeat_for_a_resend() -> None:
    """One Message-ID per (run, level), the same on a resend; one References root per run."""
    warn = email_message(message(), sender="a@x", to=("b@x",))
    again = email_message(message(), sender="a@x", to=("b@x",))
    breach = email_message(message(level=AlertLevel.BREACHED), sender="a@x", to=("b@x",))
    other = email_message(message("wf-2"), sender="a@x", to=("b@x",))
    assert warn["Message-ID"] == again["Message-ID"] != breach["Message-ID"]
    assert warn["References"] == breach["References"] != other["References"]


def test_email_through_the_outbox_once_each(certificate: tuple[Path, Path], store: Store,
                                            http: httpx.Client) -> None:
    """Down server: kept and retried; back up: each level mailed once, never again."""
    state = SmtpServer(tls_context=_server_context(certificate))
    with smtp_server(state):
        sinks = {"email": _email_sink(state, certificate[0])}
        store.enqueue_alerts([message(level=AlertLevel.WARNING)], sinks=["email"], now=T0)
        sinks["email"].port = 1  # nothing listens there
        report = deliver_due(store, sinks, now=T0, http=http)
        assert (report.delivered, report.failed) == (0, 1)
        sinks["email"].port = state.port
        later = T0 + timedelta(minutes=5)
        store.enqueue_alerts([message(level=AlertLevel.RESOLVED)], sinks=["email"], now=later)
        # In order: the resolve waits for the warning's round (the outbox keeps the order).
        assert deliver_due(store, sinks, now=later, http=http).delivered == 1
        assert deliver_due(store, sinks, now=later, http=http).delivered == 1
        assert deliver_due(store, sinks, now=later + timedelta(hours=1), http=http).delivered == 0
    assert [m.message["X-Amperity-Ops-Level"] for m in state.mails] == ["warning", "resolved"]


def test_email_config_from_policy_file(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    """`from`, `to`, security, secrets from env, default port; a lone username is refused."""
    config = OpsConfig.model_validate({"tenants": TENANTS, "alerts": [{
        "kind": "email", "host": "smtp.example.test", "from": "ops@example.test",
        "to": ["oncall@example.test"], "username": {"env": "SMTP_USER"},
        "password": {"env": "SMTP_PASSWORD"}}]})
    (sink,) = build_sinks(config.alerts).values()
    assert isinstance(sink, EmailSink)
    assert (sink.port, sink.security) == (587, "starttls")
    bad = tmp_path / "policy.yaml"
    bad.write_text("alerts:\n  - {kind: email, host: h, from: a@x, to: [b@x], username: u}\n"
                   "tenants: [{tenant_id: acme, access_token: t}]\n")
    with pytest.raises(ConfigError, match=r"policy.yaml: alerts\[0\]: .*username and password"):
        load_ops_config(bad)


# -- Opsgenie -------------------------------------------------------------------------------


def _opsgenie(services: Services, key: str = "genie-test-key") -> OpsgenieSink:
    return OpsgenieSink("opsgenie", SecretRef.model_validate(key),
                        url=f"{services.base_url}/opsgenie/v2/alerts",
                        responders=("data-platform",))


def test_opsgenie_alert_body() -> None:
    """The alias is the run's dedup key; breached is P1, warning P3; facts and link in details."""
    body = opsgenie_alert(message(level=AlertLevel.BREACHED), responders=("dp",))
    assert body["alias"] == "amperity-ops:acme:wf-1"
    assert body["priority"] == "P1"
    assert body["details"]["Runtime"] == "2h 05m"
    assert body["details"]["Open in Amperity"].endswith("/workflows/wf-1")
    assert body["responders"] == [{"type": "team", "name": "dp"}]
    assert opsgenie_alert(message())["priority"] == "P3"


def test_opsgenie_create_escalate_close(services: Services, http: httpx.Client) -> None:
    """Warning creates, breach re-creates (same alias) and raises priority, resolve closes."""
    sink = _opsgenie(services)
    for level in (AlertLevel.WARNING, AlertLevel.BREACHED, AlertLevel.RESOLVED):
        sink.send(message(level=level), http)
    alias = "amperity-ops%3Aacme%3Awf-1"
    assert services.paths("/opsgenie") == [
        "/opsgenie/v2/alerts", "/opsgenie/v2/alerts", f"/opsgenie/v2/alerts/{alias}/priority",
        f"/opsgenie/v2/alerts/{alias}/close"]
    assert services.requests[0][1]["authorization"] == "GenieKey genie-test-key"
    assert services.opsgenie_open == set()


def test_opsgenie_close_of_unknown_alert_is_fine_bad_key_is_not(
        services: Services, http: httpx.Client) -> None:
    """Closing an alert that is gone is not an error; a wrong key is, without the key."""
    _opsgenie(services).send(message(level=AlertLevel.RESOLVED), http)
    with pytest.raises(SinkError, match="opsgenie: HTTP 401") as caught:
        _opsgenie(services, key="wrong-KEY-123").send(message(), http)
    assert "wrong-KEY-123" not in str(caught.value)


# -- Slack bot ------------------------------------------------------------------------------


def _slack_config(services: Services) -> OpsConfig:
    return OpsConfig.model_validate({"tenants": TENANTS, "alerts": [{
        "kind": "slack_bot", "bot_token": "xoxb-test-token", "channel": "#oncall",
        "api_url": f"{services.base_url}/slack/api"}]})


def test_slack_bot_posts_once_then_edits_across_a_restart(
        services: Services, store_url: str, http: httpx.Client) -> None:
    """postMessage for the warning; after a restart, chat.update of that ts for breach and
    resolve (plus one thread reply on the breach); the ts is kept in the store."""
    config = _slack_config(services)
    first = Store.from_url(store_url)
    sinks = build_sinks(config.alerts, slack_messages=first)
    first.enqueue_alerts([message()], sinks=["slack_bot"], now=T0)
    assert deliver_due(first, sinks, now=T0, http=http).delivered == 1
    first.close()

    restarted = Store.from_url(store_url)  # a new process: nothing in memory
    sinks = build_sinks(config.alerts, slack_messages=restarted)
    later = T0 + timedelta(minutes=30)
    restarted.enqueue_alerts([message(level=AlertLevel.BREACHED)], sinks=["slack_bot"], now=later)
    restarted.enqueue_alerts([message(level=AlertLevel.RESOLVED)], sinks=["slack_bot"], now=later)
    assert deliver_due(restarted, sinks, now=later, http=http).delivered == 1  # in order:
    assert deliver_due(restarted, sinks, now=later, http=http).delivered == 1  # then resolve
    assert restarted.slack_message("slack_bot", "amperity-ops:acme:wf-1", "#oncall") == (
        "C0ONCALL", "1.000100")
    restarted.close()

    assert services.paths("/slack") == [
        "/slack/api/chat.postMessage", "/slack/api/chat.update", "/slack/api/chat.postMessage",
        "/slack/api/chat.update"]
    assert list(services.slack_messages) == ["1.000100"]  # one message in the channel
    assert services.slack_messages["1.000100"]["text"].startswith(":white_check_mark: RESOLVED")
    reply = services.bodies("/slack/api/chat.postMessage")[1]
    assert reply["thread_ts"] == "1.000100"
    assert reply["text"].startswith(":rotating_light:")


def test_slack_bot_retry_after_failure_is_not_a_second_message(
        services: Services, store: Store, http: httpx.Client) -> None:
    """Slack down for the breach: retried later as an edit, and the channel has one message."""
    sinks = build_sinks(_slack_config(services).alerts, slack_messages=store)
    store.enqueue_alerts([message()], sinks=["slack_bot"], now=T0)
    deliver_due(store, sinks, now=T0, http=http)
    store.enqueue_alerts([message(level=AlertLevel.BREACHED)], sinks=["slack_bot"], now=T0)
    services.down = True
    assert deliver_due(store, sinks, now=T0, http=http).failed == 1
    services.down = False
    assert deliver_due(store, sinks, now=T0 + timedelta(minutes=1), http=http).delivered == 1
    assert len(services.slack_messages) == 1
    assert services.slack_messages["1.000100"]["text"].startswith(":rotating_light: BREACHED")


def test_slack_bot_deleted_message_is_posted_again(services: Services, store: Store,
                                                   http: httpx.Client) -> None:
    """An edit answered message_not_found posts a new message and remembers its ts."""
    sink = build_sinks(_slack_config(services).alerts, slack_messages=store)["slack_bot"]
    sink.send(message(), http)
    services.slack_messages.clear()  # someone deleted it
    sink.send(message(level=AlertLevel.RESOLVED), http)
    assert store.slack_message("slack_bot", "amperity-ops:acme:wf-1", "#oncall") == (
        "C0ONCALL", "1.000100")
    assert services.paths("/slack") == ["/slack/api/chat.postMessage", "/slack/api/chat.update",
                                        "/slack/api/chat.postMessage"]


def test_slack_bot_refusal_names_the_error_not_the_token(services: Services,
                                                         http: httpx.Client) -> None:
    """ok:false is a SinkError with Slack's error code and a hint; the token stays out."""
    sink = SlackBotSink("slack", SecretRef.model_validate("xoxb-WRONG-999"), "#oncall",
                        api_url=f"{services.base_url}/slack/api")
    with pytest.raises(SinkError, match=r"chat\.postMessage refused: invalid_auth") as caught:
        sink.send(message(), http)
    assert "xoxb-WRONG-999" not in str(caught.value)


def test_slack_bot_config_needs_a_channel_and_the_webhook_stays(tmp_path: Path) -> None:
    """`slack_bot` without a channel is a load error naming the field; `slack` is the webhook."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("alerts:\n  - {kind: slack_bot, bot_token: {env: SLACK_BOT_TOKEN}}\n"
                      "tenants: [{tenant_id: acme, access_token: t}]\n")
    with pytest.raises(ConfigError, match=r"policy.yaml: alerts\[0\]\.channel: Field required"):
        load_ops_config(policy)
    webhook = OpsConfig.model_validate({"tenants": TENANTS, "alerts": [
        {"kind": "slack", "webhook_url": "https://hooks.example.test/x"}]})
    assert type(build_sinks(webhook.alerts)["slack"]).__name__ == "SlackSink"
