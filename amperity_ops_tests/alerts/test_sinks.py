"""Each sink's wire format: what the receiving service gets, with the numbers and the link."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from amperity_ops.alerts import (
    LogSink,
    PagerDutySink,
    SinkError,
    SlackSink,
    TeamsSink,
    WebhookSink,
    adaptive_card,
    build_sinks,
    message_card,
    pagerduty_event,
    slack_body,
)
from amperity_ops.core import AlertLevel
from amperity_ops.settings import LogSinkConfig, SecretRef
from amperity_ops_tests.alerts.conftest import TestClient, message
from amperity_ops_tests.alerts.receiver import Receiver

LINK = "https://acme.amperity.test/#/workflows/wf-1"


def test_slack_blocks_have_numbers_and_button() -> None:
    """Slack gets a fallback text, the facts as fields, and a button to the run."""
    body = slack_body(message(level=AlertLevel.BREACHED))
    assert body["text"].startswith(":rotating_light: BREACHED")
    fields = [f["text"] for f in body["blocks"][1]["fields"]]
    assert "*Runtime*\n2h 05m" in fields
    assert "*Max runtime*\n2h 00m" in fields
    assert body["blocks"][2]["elements"][0]["url"] == LINK


def test_pagerduty_event_shapes() -> None:
    """Trigger carries summary, severity, details and link; resolve carries only the key."""
    trigger = pagerduty_event(message(level=AlertLevel.WARNING), "rk")
    assert trigger["event_action"] == "trigger"
    assert trigger["payload"]["severity"] == "warning"
    assert trigger["payload"]["custom_details"]["Runtime"] == "2h 05m"
    assert trigger["links"] == [{"href": LINK, "text": "Open in Amperity"}]
    resolve = pagerduty_event(message(level=AlertLevel.RESOLVED), "rk")
    assert resolve == {"routing_key": "rk", "dedup_key": "amperity-ops:acme:wf-1",
                       "event_action": "resolve"}


def test_teams_cards() -> None:
    """Teams gets an Adaptive Card (default) or a MessageCard, both with facts and link."""
    card = adaptive_card(message())["attachments"][0]["content"]
    assert card["body"][1]["facts"][0] == {"title": "Runtime", "value": "2h 05m"}
    assert card["actions"][0]["url"] == LINK
    legacy = message_card(message())
    assert legacy["@type"] == "MessageCard"
    assert legacy["potentialAction"][0]["targets"][0]["uri"] == LINK


@pytest.mark.parametrize(
    ("sink", "path", "check"),
    [
        (SlackSink("slack", SecretRef.model_validate("https://h.test/s/T/X")), "/s/T/X",
         lambda b: "blocks" in b),
        (PagerDutySink("pd", SecretRef.model_validate("key"), url="https://h.test/pd"), "/pd",
         lambda b: b["routing_key"] == "key"),
        (TeamsSink("teams", SecretRef.model_validate("https://h.test/t"), card="messagecard"),
         "/t", lambda b: b["@type"] == "MessageCard"),
        (WebhookSink("hook", SecretRef.model_validate("https://h.test/w")), "/w",
         lambda b: b["source"] == "amperity-ops" and b["runtime_s"] == 7500.0),
    ],
)
def test_sinks_post_to_their_url(sink: object, path: str, check: object) -> None:
    """Each HTTP sink posts its body to its (secret) URL and accepts a 2xx answer."""
    receiver = Receiver()
    with TestClient(receiver.app()) as http:
        sink.send(message(), http)  # type: ignore[attr-defined]
    ((got_path, body),) = receiver.received
    assert got_path == path
    assert check(body)  # type: ignore[operator]


def test_sink_raises_on_non_2xx_without_url() -> None:
    """A 500 answer raises SinkError naming the sink and status, not the URL."""
    receiver = Receiver(down=True)
    sink = SlackSink("slack", SecretRef.model_validate("https://h.test/services/SECRET"))
    with TestClient(receiver.app()) as http, pytest.raises(SinkError) as info:
        sink.send(message(), http)
    assert str(info.value).startswith("slack: HTTP 500")
    assert "SECRET" not in str(info.value)
    assert "SECRET" not in repr(sink)


def test_missing_secret_is_a_delivery_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sink whose env var is unset fails at send time, naming the variable only."""
    monkeypatch.delenv("NO_SUCH_HOOK", raising=False)
    sink = WebhookSink("hook", SecretRef(env="NO_SUCH_HOOK"))
    with TestClient(Receiver().app()) as http, pytest.raises(Exception, match="NO_SUCH_HOOK"):
        sink.send(message(), http)


@pytest.mark.parametrize(
    ("level", "log_level"),
    [(AlertLevel.WARNING, logging.WARNING), (AlertLevel.BREACHED, logging.ERROR),
     (AlertLevel.RESOLVED, logging.WARNING), (AlertLevel.INGEST, logging.WARNING),
     (AlertLevel.FAILED, logging.ERROR)],
)
def test_log_sink_levels(level: AlertLevel, log_level: int,
                         caplog: pytest.LogCaptureFixture) -> None:
    """The log sink logs the text and dedup key at ERROR for a breach or failure, else WARNING."""
    with caplog.at_level(logging.INFO, logger="amperity_ops.alerts"):
        LogSink().send(message(level=level), None)  # type: ignore[arg-type]
    (record,) = caplog.records
    assert record.levelno == log_level
    assert "amperity-ops:acme:wf-1" in record.getMessage()


def test_log_sink_every_kind_passes_the_default_level(caplog: pytest.LogCaptureFixture) -> None:
    """At the default (WARNING) level all five alert kinds reach the log, RESOLVED included."""
    for level in AlertLevel:
        LogSink().send(message(level=level), None)  # type: ignore[arg-type]
    assert [r.levelno >= logging.WARNING for r in caplog.records] == [True] * len(AlertLevel)
    assert len(caplog.records) == len(AlertLevel) == 5


def test_log_sink_appends_every_alert_to_its_file(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``file`` (env vars expanded, directory created) each alert is appended, in order."""
    monkeypatch.setenv("ALERTS_HOME", str(tmp_path))
    sink = LogSink(file="$ALERTS_HOME/logs/alerts.log")
    for level in (AlertLevel.WARNING, AlertLevel.BREACHED, AlertLevel.RESOLVED):
        sink.send(message(level=level), None)  # type: ignore[arg-type]
    text = (tmp_path / "logs" / "alerts.log").read_text()
    assert [line.split(" ", 3)[-1] for line in text.splitlines() if line.endswith(
        ("WARNING", "BREACHED", "RESOLVED"))] == ["WARNING", "BREACHED", "RESOLVED"]
    assert text.count("Courier Group Nightly has run 2h 05m\n[amperity-ops:acme:wf-1]") == 3


def test_log_sink_file_comes_from_the_policy(tmp_path: Path) -> None:
    """A ``log`` entry's ``file`` reaches the sink the factory builds."""
    config = LogSinkConfig(kind="log", file=str(tmp_path / "alerts.log"))
    (sink,) = build_sinks([config]).values()
    sink.send(message(level=AlertLevel.BREACHED), None)  # type: ignore[arg-type]
    assert "BREACHED\nCourier Group Nightly" in (tmp_path / "alerts.log").read_text()
