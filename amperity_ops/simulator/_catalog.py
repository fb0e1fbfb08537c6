"""The workflows a simulated tenant runs, with their schedules, durations and failure odds.

Names and types follow the examples in Amperity's API documents (``courier.group/run``,
``orchestration.group/run``, ``campaign.send``, ``bridge.sync``). The odds are tuned so a
few days of history show every interesting case: customer and platform failures, runs with
failures, pauses, skips and runs that take several times longer than usual (SLA breaches).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True)
class TaskTemplate:
    """One step of a workflow, as shown in ``view=verbose``."""

    label: str
    task_type: str
    execution_type: str


@dataclass(frozen=True)
class Outcomes:
    """Probabilities of each way a scheduled run can go (the rest succeed normally)."""

    skipped: float = 0.02
    failed_customer: float = 0.04
    failed_platform: float = 0.03
    running_with_failures: float = 0.03
    paused: float = 0.02
    long: float = 0.06


@dataclass(frozen=True)
class WorkflowDefinition:
    """A scheduled workflow (courier group, orchestration group, campaign, bridge).

    Attributes:
        config_id: What ``POST /workflow/runs`` takes as ``config_id`` to start it.
        name: The workflow name shown on every run.
        type: The workflow type on the wire (``courier.group/run`` ...).
        every: The schedule interval (0 = never scheduled; start it by hand).
        offset: The first fire time after midnight UTC.
        duration: The typical runtime.
        warn_after: Amperity's own "running long" threshold, if the workflow has one.
        tasks: The steps shown in the verbose view.
        ingest_tables: Tables loaded by a courier group (one ingest job per run).
        outcomes: How often each kind of run happens.
    """

    config_id: str
    name: str
    type: str
    every: timedelta
    offset: timedelta
    duration: timedelta
    warn_after: timedelta | None = None
    tasks: tuple[TaskTemplate, ...] = ()
    ingest_tables: tuple[str, ...] = ()
    outcomes: Outcomes = field(default_factory=Outcomes)


_COURIER_TASKS = (
    TaskTemplate("Fetching files from SFTP", "courier.fetch", "prodigal"),
    TaskTemplate("Loading feeds into domain tables", "ingest.load", "spark-sql"),
    TaskTemplate("Running Stitch", "stitch.run", "identity"),
    TaskTemplate("Refreshing databases", "database.refresh", "spark-sql"),
)
_ORCHESTRATION_TASKS = (
    TaskTemplate("Running query Customer 360 export", "query.run", "spark-sql"),
    TaskTemplate("Sending treatment customer_attribute_group to destination - S3",
                 "orchestration.send", "prodigal-aurora"),
)
_CAMPAIGN_TASKS = (
    TaskTemplate("Building campaign audience", "campaign.audience", "spark-sql"),
    TaskTemplate("Sending campaign to destination", "campaign.send", "prodigal"),
    TaskTemplate("Appending campaign results", "campaign.append-results", "databricks"),
)
_BRIDGE_TASKS = (TaskTemplate("Syncing tables to Databricks", "bridge.sync", "databricks"),)

H = timedelta(hours=1)
M = timedelta(minutes=1)

DEFAULT_CATALOG: tuple[WorkflowDefinition, ...] = (
    WorkflowDefinition(
        "cg-2Kc8nRw1Q", "Daily Ecommerce Sources", "courier.group/run",
        every=24 * H, offset=2 * H, duration=45 * M, warn_after=2 * H,
        tasks=_COURIER_TASKS, ingest_tables=("Shopify_Orders", "Shopify_Customers", "Returns"),
    ),
    WorkflowDefinition(
        "cg-7PqLx2Vbn", "Hourly POS Transactions", "courier.group/run",
        every=H, offset=5 * M, duration=8 * M, warn_after=30 * M,
        tasks=_COURIER_TASKS, ingest_tables=("POS_Transactions", "POS_Stores"),
    ),
    WorkflowDefinition(
        "cg-3Hd9sYt4M", "Loyalty Program Feed", "courier.group/run",
        every=6 * H, offset=30 * M, duration=20 * M, warn_after=None,
        tasks=_COURIER_TASKS, ingest_tables=("Loyalty_Members", "Loyalty_Points"),
    ),
    WorkflowDefinition(
        "og-5Fm2kQz8R", "Customer Attribute Daily", "orchestration.group/run",
        every=24 * H, offset=6 * H, duration=25 * M, warn_after=H,
        tasks=_ORCHESTRATION_TASKS,
    ),
    WorkflowDefinition(
        "og-9Xw4bNc6T", "Paid Media Audiences", "orchestration.group/run",
        every=4 * H, offset=15 * M, duration=12 * M, warn_after=None,
        tasks=_ORCHESTRATION_TASKS,
    ),
    WorkflowDefinition(
        "cc-21HCWon6Y", "Holiday Campaign", "campaign.send",
        every=24 * H, offset=14 * H, duration=35 * M, warn_after=2 * H,
        tasks=_CAMPAIGN_TASKS,
    ),
    WorkflowDefinition(
        "cc-4Tr7mKp2L", "Winback Campaign", "campaign.send",
        every=12 * H, offset=9 * H, duration=15 * M, warn_after=None,
        tasks=_CAMPAIGN_TASKS,
    ),
    WorkflowDefinition(
        "br-8Lz3qWe5D", "Databricks Bridge Sync", "bridge.sync",
        every=2 * H, offset=45 * M, duration=6 * M, warn_after=None,
        tasks=_BRIDGE_TASKS,
    ),
)

#: Errors Amperity attributes to the customer's configuration, by workflow type.
CUSTOMER_ERRORS_BY_TYPE: dict[str, tuple[tuple[str, str], ...]] = {
    "courier.group/run": (
        ("amperity.workflow.task.stitch/table", "Found table in an invalid state."),
        ("amperity.workflow.task.courier/file-not-found",
         "No files matched the pattern 'orders_*.csv' in the requested range."),
        ("amperity.workflow.task.ingest/schema",
         "Field 'order_total' could not be parsed as decimal in 1,204 rows."),
    ),
    "orchestration.group/run": (
        ("amperity.workflow.task.query/sql",
         "Column 'loyalty_tier' cannot be resolved in query 'Customer 360'."),
        ("amperity.workflow.task.destination/credentials",
         "The destination rejected the credentials: 403 Forbidden."),
    ),
    "campaign.send": (
        ("amperity.workflow.task.campaign/audience",
         "The campaign audience is empty after exclusions."),
        ("amperity.workflow.task.destination/credentials",
         "The destination rejected the credentials: 403 Forbidden."),
    ),
    "bridge.sync": (
        ("amperity.workflow.task.bridge/share",
         "The Databricks share 'amperity_share' no longer exists."),
    ),
}
#: Customer errors for workflow types not listed above.
CUSTOMER_ERRORS: tuple[tuple[str, str], ...] = (
    ("amperity.workflow.task.stitch/table", "Found table in an invalid state."),
    ("amperity.workflow.task.query/sql",
     "Column 'loyalty_tier' cannot be resolved in query 'Customer 360'."),
)
#: Errors Amperity attributes to its own platform (usually transient).
PLATFORM_ERRORS: tuple[tuple[str, str], ...] = (
    ("amperity.workflow.task.spark/cluster", "The Spark cluster lost executors during the job."),
    ("amperity.workflow.task.storage/timeout", "Timed out writing to intermediate storage."),
    ("amperity.workflow.task.scheduler/internal", "An internal scheduler error occurred."),
)

TASK_TYPES_BY_WORKFLOW_TYPE: dict[str, tuple[TaskTemplate, ...]] = {
    "courier.group/run": _COURIER_TASKS,
    "orchestration.group/run": _ORCHESTRATION_TASKS,
    "campaign.send": _CAMPAIGN_TASKS,
    "bridge.sync": _BRIDGE_TASKS,
}
GENERIC_TASKS = (TaskTemplate("Running workflow", "workflow.run", "legacy"),)
