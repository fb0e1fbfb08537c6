"""The sinks that deliver alert messages: one module per medium, and their factory.

One module per sink (``slack`` webhook, ``slack_bot``, ``pagerduty``, ``opsgenie``, ``email``,
``teams``, ``webhook``, ``log``); each sink is
a small class with ``send(message, http)`` that raises :class:`SinkError` unless the receiver
answered 2xx. The messages themselves are core nouns (:mod:`amperity_ops.core`); draining the
store's outbox into the sinks is orchestration (:mod:`amperity_ops.services.outbox`).
"""

from amperity_ops.alerts._http import AlertSink, Secret, SinkError, redact
from amperity_ops.alerts.email import EmailSink, email_message
from amperity_ops.alerts.factory import build_sinks
from amperity_ops.alerts.log import LogSink
from amperity_ops.alerts.opsgenie import OpsgenieSink, opsgenie_alert
from amperity_ops.alerts.pagerduty import DEFAULT_EVENTS_URL, PagerDutySink, pagerduty_event
from amperity_ops.alerts.slack import SlackSink, slack_body
from amperity_ops.alerts.slack_bot import MemoryMessageBook, SlackBotSink, SlackMessageBook
from amperity_ops.alerts.teams import TeamsSink, adaptive_card, message_card
from amperity_ops.alerts.webhook import WebhookSink

__all__ = [
    "DEFAULT_EVENTS_URL",
    "AlertSink",
    "EmailSink",
    "LogSink",
    "MemoryMessageBook",
    "OpsgenieSink",
    "PagerDutySink",
    "Secret",
    "SinkError",
    "SlackBotSink",
    "SlackMessageBook",
    "SlackSink",
    "TeamsSink",
    "WebhookSink",
    "adaptive_card",
    "build_sinks",
    "email_message",
    "message_card",
    "opsgenie_alert",
    "pagerduty_event",
    "redact",
    "slack_body",
]
