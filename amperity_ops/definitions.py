"""The Dagster code location: ``amperity_ops.definitions:defs`` (see workspace.yaml).

Loading this module makes no API call and needs no ``AMPERITY_*`` variable: the policy file is
read and the store opened only when a run or a sensor tick uses the ``amperity_ops`` resource.
"""

from __future__ import annotations

from dagster import Definitions

from amperity_ops.defs.assets import INVENTORY_ASSETS, POLLING_ASSETS
from amperity_ops.defs.check_runs import (
    amperity_checks_after_poll,
    amperity_checks_job,
    ingest_jobs_checks,
    workflow_runs_checks,
)
from amperity_ops.defs.jobs import stop_amperity_workflow_run
from amperity_ops.defs.resources import RESOURCE_KEY, amperity_ops_resource
from amperity_ops.defs.schedules import (
    amperity_inventory_job,
    amperity_inventory_schedule,
    amperity_poll_job,
    amperity_poll_schedule,
)
from amperity_ops.defs.sensors import amperity_ingest_sensor, amperity_workflow_sla_sensor

__all__ = ["defs"]

defs = Definitions(
    assets=[*POLLING_ASSETS, *INVENTORY_ASSETS],
    asset_checks=[workflow_runs_checks, ingest_jobs_checks],
    jobs=[stop_amperity_workflow_run, amperity_poll_job, amperity_inventory_job,
          amperity_checks_job],
    schedules=[amperity_poll_schedule, amperity_inventory_schedule],
    sensors=[amperity_workflow_sla_sensor, amperity_ingest_sensor, amperity_checks_after_poll],
    resources={RESOURCE_KEY: amperity_ops_resource},
)
