"""Build sink objects from the policy file's ``alerts:`` list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from amperity_ops.alerts._http import AlertSink
from amperity_ops.alerts.email import EmailSink
from amperity_ops.alerts.log import LogSink
from amperity_ops.alerts.opsgenie import OpsgenieSink
from amperity_ops.alerts.pagerduty import PagerDutySink
from amperity_ops.alerts.slack import SlackSink
from amperity_ops.alerts.slack_bot import SlackBotSink, SlackMessageBook
from amperity_ops.alerts.teams import TeamsSink
from amperity_ops.alerts.webhook import WebhookSink

if TYPE_CHECKING:  # settings imports monitoring, which imports this package
    from amperity_ops.settings import AlertSinkConfig

__all__ = ["build_sinks"]


def build_sinks(
    configs: Sequence[AlertSinkConfig], *, slack_messages: SlackMessageBook | None = None
) -> dict[str, AlertSink]:
    """One sink per configured entry, keyed by its outbox id (``settings.sink_ids``).

    Secrets are not resolved here: each sink reads its secret when it sends, so a missing
    variable is a delivery failure (retried, reported) rather than a crash at load.

    Args:
        configs: The ``alerts:`` entries.
        slack_messages: Where Slack bot sinks remember each run's message (the history
            store); None keeps them in memory (one-off sends such as ``doctor``).
    """
    from amperity_ops.settings import sink_ids  # runtime import: see TYPE_CHECKING above

    sinks: dict[str, AlertSink] = {}
    for sink_id, config in zip(sink_ids(list(configs)), configs, strict=True):
        if config.kind == "slack_bot":
            sinks[sink_id] = SlackBotSink(sink_id, config.bot_token, config.channel,
                                          book=slack_messages, api_url=config.api_url)
        elif config.kind == "slack":
            sinks[sink_id] = SlackSink(sink_id, config.webhook_url)
        elif config.kind == "opsgenie":
            sinks[sink_id] = OpsgenieSink(sink_id, config.api_key, url=config.url,
                                          responders=tuple(config.responders),
                                          tags=tuple(config.tags))
        elif config.kind == "email":
            sinks[sink_id] = EmailSink(
                sink_id, host=config.host, port=config.effective_port, sender=config.from_addr,
                to=tuple(config.to), security=config.security, username=config.username,
                password=config.password, timeout=config.timeout_seconds,
                ca_file=config.ca_file)
        elif config.kind == "pagerduty":
            sinks[sink_id] = PagerDutySink(sink_id, config.routing_key, url=config.url)
        elif config.kind == "teams":
            sinks[sink_id] = TeamsSink(sink_id, config.webhook_url, card=config.card)
        elif config.kind == "webhook":
            sinks[sink_id] = WebhookSink(sink_id, config.url)
        elif config.kind == "log":
            sinks[sink_id] = LogSink(sink_id, file=config.file)
    return sinks
