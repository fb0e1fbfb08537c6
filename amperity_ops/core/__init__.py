"""The neutral core: nouns every part shares, importing nothing else of the project.

Durations and their wording, the clock protocol, alert levels and messages, alert tracks,
stop results and who asked for a stop live here, so that the settings, the decisions
(``monitoring/``), the store, the sinks (``alerts/``), the services, the Dagster definitions and
the CLI all speak of them the same way, and no layer has to reach up to another for a noun.
"""

from amperity_ops.core.alerts import AlertLevel, AlertMessage, AlertTrack, dedup_key
from amperity_ops.core.clock import Clock, SystemClock, clock_label, clock_mark, utc_now
from amperity_ops.core.durations import (
    compact_duration,
    format_duration,
    parse_duration,
    short_duration,
)
from amperity_ops.core.stops import NewStop, Requester, RequesterKind, StopResult

__all__ = [
    "AlertLevel",
    "AlertMessage",
    "AlertTrack",
    "Clock",
    "NewStop",
    "Requester",
    "RequesterKind",
    "StopResult",
    "SystemClock",
    "clock_label",
    "clock_mark",
    "compact_duration",
    "dedup_key",
    "format_duration",
    "parse_duration",
    "short_duration",
    "utc_now",
]
