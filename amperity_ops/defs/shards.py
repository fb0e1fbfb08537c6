"""Many tenants over several code locations: one guard location per shard, one for the assets.

A Dagster deployment scales sensors by code locations: each location is its own process (a
gRPC code server; a pod on Kubernetes), and the daemon evaluates the sensors of all of them on
its sensor thread pool (``sensors: use_threads: true`` in dagster.yaml). So a fleet of tenants
is split by running the *same* module several times with ``AMPERITY_OPS_SHARD=k/n``: each
location reads the one policy file and keeps its own tenants (an explicit ``shard:``, else a
stable hash of the name; see :mod:`amperity_ops.monitoring.shards`). Sensor and job names stay
the same in every location: Dagster scopes them per location, so they do not clash.

Asset keys, unlike sensor names, are global in a deployment (a key materialized by two
locations is an error in the UI), so a shard's location carries the guard only: the SLA and
ingest sensors and the stop job they request. The polled assets and their schedules stay in
one location (:func:`polling_definitions`), which keeps "what is late anywhere" one page.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dagster import Definitions, InitResourceContext
from pydantic import Field

from amperity_ops.defs.assets import INVENTORY_ASSETS, POLLING_ASSETS
from amperity_ops.defs.jobs import stop_amperity_workflow_run
from amperity_ops.defs.resources import RESOURCE_KEY, AmperityOpsResource, amperity_ops_resource
from amperity_ops.defs.schedules import (
    amperity_inventory_job,
    amperity_inventory_schedule,
    amperity_poll_job,
    amperity_poll_schedule,
)
from amperity_ops.defs.sensors import amperity_ingest_sensor, amperity_workflow_sla_sensor
from amperity_ops.defs.stop_batch_job import stop_amperity_workflow_runs
from amperity_ops.monitoring.shards import SHARD_ENV, Shard, parse_shard
from amperity_ops.services.runtime import OpsRuntime

__all__ = [
    "SHARD_ENV",
    "ShardedOpsResource",
    "guard_definitions",
    "polling_definitions",
    "shard_from_env",
]


def shard_from_env(environ: Mapping[str, str] | None = None) -> Shard | None:
    """The shard this code location watches, from ``AMPERITY_OPS_SHARD`` (None: unset).

    Read when the code location loads, so a bad value stops the location at once instead of
    failing every tick.

    Raises:
        amperity_ops.settings.ConfigError: One line naming the variable, its value and the fix.
    """
    env = os.environ if environ is None else environ
    return parse_shard(env.get(SHARD_ENV))


class ShardedOpsResource(AmperityOpsResource):
    """The ``amperity_ops`` resource of one shard's code location: only that shard's tenants."""

    shard: str = Field(
        description="The share of the policy file's tenants this code location watches, k/n "
        "(from AMPERITY_OPS_SHARD when the location loaded): a tenant's explicit 'shard', else "
        "a stable hash of its name.",
    )

    def create_resource(self, context: InitResourceContext) -> OpsRuntime:
        """The runtime over this shard's tenants (policy file read now, no API call)."""
        return OpsRuntime.from_settings(
            config_path=self.config_path,
            store_url=self.store_url,
            tenant=None if self.tenant is None else self.tenant.settings(),
            shard=parse_shard(self.shard),
        )


def guard_definitions(shard: Shard) -> Definitions:
    """One shard's code location: its tenants' SLA and ingest sensors and the stop jobs.

    Args:
        shard: Which share of the policy file's tenants this location watches.

    Returns:
        Definitions with the usual sensor and job names, and the ``amperity_ops`` resource
        bound to the shard (shown in the UI's resource config).
    """
    return Definitions(
        jobs=[stop_amperity_workflow_run, stop_amperity_workflow_runs],
        sensors=[amperity_workflow_sla_sensor, amperity_ingest_sensor],
        resources={RESOURCE_KEY: ShardedOpsResource(shard=str(shard))},
    )


def polling_definitions() -> Definitions:
    """The assets' code location beside the shards: every tenant's polled and inventory assets.

    Holds the stop job too, so a person can stop any tenant's run from one Launchpad; the
    sensors live in the shards.
    """
    return Definitions(
        assets=[*POLLING_ASSETS, *INVENTORY_ASSETS],
        jobs=[stop_amperity_workflow_run, amperity_poll_job, amperity_inventory_job],
        schedules=[amperity_poll_schedule, amperity_inventory_schedule],
        resources={RESOURCE_KEY: amperity_ops_resource},
    )
