"""Alert messages, the sinks that deliver them, and at-least-once delivery from the outbox.

One module per sink (``slack``, ``pagerduty``, ``teams``, ``webhook``, ``log``); each sink is
a small class with ``send(message, http)`` that raises :class:`SinkError` unless the receiver
answered 2xx. :func:`deliver_due` drains the store's outbox into them.
"""

from amperity_ops.alerts._http import AlertSink, Secret, SinkError
from amperity_ops.alerts.delivery import DeliveryReport, deliver_due, retry_delay
from amperity_ops.alerts.factory import build_sinks
from amperity_ops.alerts.log import LogSink
from amperity_ops.alerts.message import AlertLevel, AlertMessage, dedup_key
from amperity_ops.alerts.pagerduty import DEFAULT_EVENTS_URL, PagerDutySink, pagerduty_event
from amperity_ops.alerts.slack import SlackSink, slack_body
from amperity_ops.alerts.teams import TeamsSink, adaptive_card, message_card
from amperity_ops.alerts.webhook import WebhookSink

__all__ = [
    "DEFAULT_EVENTS_URL",
    "AlertLevel",
    "AlertMessage",
    "AlertSink",
    "DeliveryReport",
    "LogSink",
    "PagerDutySink",
    "Secret",
    "SinkError",
    "SlackSink",
    "TeamsSink",
    "WebhookSink",
    "adaptive_card",
    "build_sinks",
    "dedup_key",
    "deliver_due",
    "message_card",
    "pagerduty_event",
    "retry_delay",
    "slack_body",
]
