"""The asset event sensor: Amperity outcomes as runless asset events (no Dagster run).

Each tick reads the history store, never the API (see ``services/asset_events.py``), and
returns ``SensorResult(asset_events=[...])``: materializations of workflows whose runs
succeeded and of tables a feed loaded, and check evaluations (``last_run_succeeded``,
``within_sla``). Everything it reports is recorded in the store first, so nothing is reported
twice across restarts, whatever the cursor says.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at decoration time.

from typing import Any

from dagster import (
    DefaultSensorStatus,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from amperity_ops.core.clock import clock_mark
from amperity_ops.defs.asset_graph import RESOURCE_KEY, AmperityAssetGraph
from amperity_ops.defs.instance_names import sensor_resource
from amperity_ops.defs.sensors import OWNERS
from amperity_ops.services.asset_events import run_asset_event_tick
from amperity_ops.services.runtime import OpsRuntime

__all__ = ["ASSET_EVENTS_SENSOR_NAME", "build_asset_events_sensor"]

ASSET_EVENTS_SENSOR_NAME = "amperity_asset_events_sensor"
INTERVAL_S = 60


def build_asset_events_sensor(
    graph: AmperityAssetGraph, *, name: str = ASSET_EVENTS_SENSOR_NAME,
    resource_key: str = RESOURCE_KEY,
) -> SensorDefinition:
    """The sensor reporting the graph's Amperity events.

    Args:
        graph: The asset graph (keys, tenants, links).
        name: The sensor's name (the factory adds its ``name_suffix``).
        resource_key: The instance's ``OpsRuntime`` resource.
    """

    @sensor(
        name=name,
        minimum_interval_seconds=INTERVAL_S,
        default_status=DefaultSensorStatus.RUNNING,
        owners=OWNERS,
        required_resource_keys={resource_key},
        description=(
            "Reports Amperity outcomes as asset events without Dagster runs, from the history "
            "store (no API request): a succeeded workflow run materializes its asset; a failed, "
            "stopped or cancelled one turns last_run_succeeded red; runs in flight update "
            "within_sla; a feed that loaded a table materializes the table with its row counts. "
            "Each run is reported once, across restarts. " + graph.status_line()
        ),
    )
    def amperity_asset_events_sensor(
        context: SensorEvaluationContext, **resources: Any
    ) -> SensorResult:
        """One tick: plan from the store, record, report."""
        runtime: OpsRuntime = sensor_resource(context, resources, resource_key)
        now = runtime.clock()
        tick = run_asset_event_tick(runtime, graph.tenant_assets(), now=now)
        events = [event for tenant, plan in tick.plans.items()
                  for event in graph.events(tenant, plan, time_mark=clock_mark(runtime.clock))]
        summary = tick.summary()
        if graph.missing:
            summary += f"; {graph.status_line()}"
        context.log.info(summary)
        if not events:
            return SensorResult(skip_reason=SkipReason(summary))
        return SensorResult(asset_events=events)

    return amperity_asset_events_sensor
