"""Can each alert sink send? Its secrets and URLs checked, and one TEST message sent on request.

What ``amperity-ops doctor`` reports per sink, so that a page that can never be sent (an unset
``PAGERDUTY_ROUTING_KEY``, a webhook URL without a scheme) is found before the 3 a.m. breach
that needed it. Nothing here prints a secret or a sink URL: problems name the sink, the field
and the environment variable.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import httpx

from amperity_ops.alerts import AlertSink, MemoryMessageBook, SinkError, build_sinks, redact
from amperity_ops.core.alerts import AlertLevel, AlertMessage, dedup_key
from amperity_ops.settings import AlertSinkConfig, SecretRef, sink_ids

__all__ = [
    "INCIDENT_KINDS",
    "SinkProblem",
    "SinkTestResult",
    "doctor_test_alert",
    "send_test_alerts",
    "sink_problems",
    "sink_secrets",
]

INCIDENT_KINDS = frozenset({"pagerduty", "opsgenie"})
"""Sinks whose TEST message opens an incident: it is resolved right after, so nobody is paged
about it for longer than a moment and nothing stays open."""
_URL_SECRETS = {"url", "webhook_url"}
"""Secret fields whose value is a URL (checked for a scheme and a host once revealed)."""


@dataclass(frozen=True)
class SinkProblem:
    """Why a sink cannot send: ``field`` of sink ``sink`` (and the variable, if that is it)."""

    sink: str
    field: str
    problem: str
    variable: str | None = None

    def describe(self) -> str:
        """E.g. ``routing_key: PAGERDUTY_ROUTING_KEY is not set``."""
        return f"{self.field}: {self.problem}"


@dataclass(frozen=True)
class SinkTestResult:
    """What happened to the TEST message of one sink."""

    sink: str
    kind: str
    ok: bool
    detail: str


def sink_secrets(config: AlertSinkConfig) -> Iterator[tuple[str, SecretRef]]:
    """The sink's secret references, as ``(field name, reference)``."""
    for name in ("url", "webhook_url", "bot_token", "routing_key", "api_key", "username",
                 "password"):
        value = getattr(config, name, None)
        if isinstance(value, SecretRef):
            yield name, value


def _url_problem(value: str) -> str | None:
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "is not a URL"
    if url.scheme not in ("http", "https") or not url.host:
        return "is not an http(s) URL with a host"
    return None


def sink_problems(configs: list[AlertSinkConfig]) -> dict[str, list[SinkProblem]]:
    """Every problem of every sink, by sink id (an empty list: the sink can send).

    Checks, without sending anything: each secret reference resolves (its environment
    variable is set and not empty); each URL (secret or not) is http(s) with a host; an
    e-mail sink names a host.
    """
    found: dict[str, list[SinkProblem]] = {}
    for sink_id, config in zip(sink_ids(configs), configs, strict=True):
        problems: list[SinkProblem] = []
        for name, ref in sink_secrets(config):
            if ref.env is not None and not ref.is_set:
                problems.append(SinkProblem(sink_id, name, f"{ref.env} is not set", ref.env))
                continue
            if name in _URL_SECRETS:
                problem = _url_problem(ref.reveal())
                if problem is not None:
                    where = f" (from {ref.env})" if ref.env else ""
                    problems.append(SinkProblem(sink_id, name, f"the value{where} {problem}",
                                                ref.env))
        for name in ("api_url",) if config.kind == "slack_bot" else ("url",):
            value = getattr(config, name, None)
            if isinstance(value, str):
                problem = _url_problem(value)
                if problem is not None:
                    problems.append(SinkProblem(sink_id, name, f"{value!r} {problem}"))
        if config.kind == "email" and not config.host.strip():
            problems.append(SinkProblem(sink_id, "host", "is empty"))
        found[sink_id] = problems
    return found


def doctor_test_alert(tenant: str, *, now: datetime, level: AlertLevel = AlertLevel.WARNING,
               stamp: str | None = None) -> AlertMessage:
    """The message ``doctor --send-test-alert`` sends: marked TEST everywhere a person looks.

    Args:
        tenant: The tenant named in the message (the first of the policy file).
        now: When it is sent.
        level: WARNING (the test), or RESOLVED (closing it on incident sinks).
        stamp: Makes the dedup key unique per run of the command (default: ``now``).
    """
    host = socket.gethostname()
    key = dedup_key(tenant, f"doctor-test-{stamp or now.strftime('%Y%m%dT%H%M%S')}")
    if level is AlertLevel.RESOLVED:
        title = "TEST resolved: amperity-ops doctor test alert (no action needed)"
    else:
        title = "TEST: amperity-ops doctor test alert (no action needed)"
    text = (f"{title}\nSent by `amperity-ops doctor --send-test-alert` on {host} at "
            f"{now:%Y-%m-%d %H:%M:%S} UTC to check that alerts reach you. Nothing is late.")
    return AlertMessage(
        tenant=tenant, workflow_id="doctor-test", workflow_name="amperity-ops doctor TEST",
        level=level, title=title, text=text, dedup_key=key, raised_at=now,
        facts=(("Test", "yes: no action needed"), ("Sent from", host)),
    )


def send_test_alerts(
    configs: list[AlertSinkConfig], *, tenant: str, now: datetime, http: httpx.Client,
    skip: frozenset[str] = frozenset(),
) -> list[SinkTestResult]:
    """Send one TEST message through each sink (not through the outbox) and say how it went.

    Args:
        configs: The ``alerts:`` entries.
        tenant: Named in the message.
        now: When.
        http: The HTTP client the sinks post with.
        skip: Sink ids not to try (their secrets are missing: already reported).

    Returns:
        One result per sink tried, in file order.
    """
    sinks: dict[str, AlertSink] = build_sinks(configs, slack_messages=MemoryMessageBook())
    results = []
    for (sink_id, sink), config in zip(sinks.items(), configs, strict=True):
        if sink_id in skip:
            continue
        try:
            sink.send(doctor_test_alert(tenant, now=now), http)
            detail = "TEST message sent"
            if config.kind in INCIDENT_KINDS:
                sink.send(doctor_test_alert(tenant, now=now, level=AlertLevel.RESOLVED), http)
                detail += " and resolved again"
            elif config.kind == "log":
                detail += " to the log (logger amperity_ops.alerts)"
            results.append(SinkTestResult(sink_id, config.kind, True, detail))
        except Exception as err:  # a sink's failure is the answer, reported per sink
            text = str(err) if isinstance(err, SinkError) else redact(
                f"{sink_id}: {type(err).__name__}: {err}")
            results.append(SinkTestResult(sink_id, config.kind, False, text))
    return results
