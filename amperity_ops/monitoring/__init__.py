"""Pure monitoring decisions: no I/O, the clock is a parameter.

SLA resolution and evaluation, the per-run alert state machine, stop guard rails, ingest health,
runtime statistics, and :func:`plan_sla_tick` that composes them for one sensor tick.

Nothing here imports :mod:`amperity_ops.settings` at runtime (settings imports
:mod:`.durations`), only its types for checking.
"""

from amperity_ops.core.durations import (
    compact_duration,
    format_duration,
    parse_duration,
    short_duration,
)
from amperity_ops.monitoring.alert_state import AlertStep, AlertTrack, next_alert
from amperity_ops.monitoring.alert_text import run_alert_message, vanished_alert_message
from amperity_ops.monitoring.ingest import (
    IngestHealth,
    IngestProblem,
    evaluate_ingest_job,
    ingest_alert_message,
)
from amperity_ops.monitoring.sla import (
    SlaEvaluation,
    SlaLevel,
    SlaRule,
    evaluate_sla,
    learned_warn_after,
    match_policy,
    resolve_sla,
)
from amperity_ops.monitoring.stats import (
    RuntimeStats,
    counts_by_state,
    percentile,
    runtime_stats_by_workflow,
)
from amperity_ops.monitoring.stops import (
    OurStop,
    StopDecision,
    decide_stop,
    ended_reason,
    stop_run_key,
)
from amperity_ops.monitoring.tick import (
    MAX_LISTED_RUNS,
    StopRequest,
    TickPlan,
    bounded,
    plan_sla_tick,
)

__all__ = [
    "MAX_LISTED_RUNS",
    "AlertStep",
    "AlertTrack",
    "IngestHealth",
    "IngestProblem",
    "OurStop",
    "RuntimeStats",
    "SlaEvaluation",
    "SlaLevel",
    "SlaRule",
    "StopDecision",
    "StopRequest",
    "TickPlan",
    "bounded",
    "compact_duration",
    "counts_by_state",
    "decide_stop",
    "ended_reason",
    "evaluate_ingest_job",
    "evaluate_sla",
    "format_duration",
    "ingest_alert_message",
    "learned_warn_after",
    "match_policy",
    "next_alert",
    "parse_duration",
    "percentile",
    "plan_sla_tick",
    "resolve_sla",
    "run_alert_message",
    "runtime_stats_by_workflow",
    "short_duration",
    "stop_run_key",
    "vanished_alert_message",
]
