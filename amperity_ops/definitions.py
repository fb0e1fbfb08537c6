"""The Dagster code location: ``amperity_ops.definitions:defs`` (see workspace.yaml).

Loading this module makes no API call and needs no ``AMPERITY_*`` variable: the policy file is
read and the store opened only when a run or a sensor tick uses the ``amperity_ops`` resource.

Many tenants: with ``AMPERITY_OPS_SHARD=k/n`` set, ``defs`` is shard k's guard (the sensors and
the stop job for its share of the tenants), and ``polling_defs`` is the one location for the
assets beside the shards (see ``amperity_ops.defs.shards`` and docs/operations.md).
"""

from __future__ import annotations

from dagster import Definitions

from amperity_ops.defs.assets import INVENTORY_ASSETS, POLLING_ASSETS
from amperity_ops.defs.jobs import stop_amperity_workflow_run
from amperity_ops.defs.resources import RESOURCE_KEY, amperity_ops_resource
from amperity_ops.defs.schedules import (
    amperity_inventory_job,
    amperity_inventory_schedule,
    amperity_poll_job,
    amperity_poll_schedule,
)
from amperity_ops.defs.sensors import amperity_ingest_sensor, amperity_workflow_sla_sensor
from amperity_ops.defs.shards import guard_definitions, polling_definitions, shard_from_env

__all__ = ["SHARD", "defs", "polling_defs"]

SHARD = shard_from_env()
"""``AMPERITY_OPS_SHARD``, read at load: a bad value stops the code location with one line."""

defs = (
    guard_definitions(SHARD)
    if SHARD is not None
    else Definitions(
        assets=[*POLLING_ASSETS, *INVENTORY_ASSETS],
        jobs=[stop_amperity_workflow_run, amperity_poll_job, amperity_inventory_job],
        schedules=[amperity_poll_schedule, amperity_inventory_schedule],
        sensors=[amperity_workflow_sla_sensor, amperity_ingest_sensor],
        resources={RESOURCE_KEY: amperity_ops_resource},
    )
)

polling_defs = polling_definitions()
"""The assets' location beside the shards (``-m amperity_ops.definitions -a polling_defs``)."""
