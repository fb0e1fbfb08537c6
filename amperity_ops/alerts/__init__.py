"""Alert messages, the sinks that deliver them, and at-least-once delivery from the outbox."""

from amperity_ops.alerts.message import AlertLevel, AlertMessage, dedup_key

__all__ = ["AlertLevel", "AlertMessage", "dedup_key"]
