"""Schedules: the polling assets every few minutes, the inventory hourly."""

from __future__ import annotations

import os

from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job

from amperity_ops.defs.assets import INVENTORY_ASSETS, POLLING_ASSETS

__all__ = [
    "POLL_CRON_ENV",
    "amperity_inventory_job",
    "amperity_inventory_schedule",
    "amperity_poll_job",
    "amperity_poll_schedule",
]

POLL_CRON_ENV = "AMPERITY_OPS_POLL_CRON"
"""Overrides the polling cron (default every 5 minutes; the demo polls every minute)."""
DEFAULT_POLL_CRON = "*/5 * * * *"

amperity_poll_job = define_asset_job(
    "amperity_poll_job",
    # Without their checks: those run in amperity_checks_job right after (defs/check_runs.py),
    # so they do not read "In progress" for the length of the poll.
    selection=AssetSelection.assets(*POLLING_ASSETS).without_checks(),
    description="Poll workflow runs and ingest jobs of every tenant (incremental); their checks "
    "follow in amperity_checks_job.",
)

amperity_inventory_job = define_asset_job(
    "amperity_inventory_job",
    selection=AssetSelection.assets(*INVENTORY_ASSETS),
    description="Refresh the inventory: segments, campaigns and drafts, audit events.",
)

amperity_poll_schedule = ScheduleDefinition(
    name="amperity_poll_schedule",
    job=amperity_poll_job,
    cron_schedule=os.environ.get(POLL_CRON_ENV) or DEFAULT_POLL_CRON,
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Materializes amperity/workflow_runs and amperity/ingest_jobs "
    f"(cron from ${POLL_CRON_ENV}, default '{DEFAULT_POLL_CRON}').",
)

amperity_inventory_schedule = ScheduleDefinition(
    name="amperity_inventory_schedule",
    job=amperity_inventory_job,
    cron_schedule="7 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Materializes the inventory assets hourly (segments, campaigns, audit events).",
)
