"""``build_amperity_defs``: everything amperity-ops puts in a Dagster project, as one call.

The shipped code location (``amperity_ops.definitions:defs``) and the demo are built here, and
so is Amperity in your own project::

    defs = dg.Definitions.merge(my_defs, build_amperity_defs(config_path="amperity.yaml"))

Loading reads the policy file and the catalog files (``amperity-ops catalog refresh`` writes
them) and never calls the Amperity API; the store is opened only when a run or tick starts.
"""

# No `from __future__ import annotations`: Dagster reads the sensor's annotations.

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import (
    Definitions,
    InitResourceContext,
    JobDefinition,
    ResourceDefinition,
    ResourceParam,
    RunRequest,
    ScheduleDefinition,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    define_asset_job,
    resource,
    sensor,
)

from amperity_ops.core.clock import clock_mark
from amperity_ops.defs.asset_event_sensor import ASSET_EVENTS_SENSOR_NAME, build_asset_events_sensor
from amperity_ops.defs.asset_graph import (
    RESOURCE_KEY,
    AmperityAssetGraph,
    build_asset_graph,
    build_checks,
)
from amperity_ops.defs.assets import INVENTORY_ASSETS, POLLING_ASSETS
from amperity_ops.defs.check_runs import (
    amperity_checks_after_poll,
    amperity_checks_job,
    build_checks_after_poll,
    ingest_jobs_checks,
    workflow_runs_checks,
)
from amperity_ops.defs.jobs import stop_amperity_workflow_run
from amperity_ops.defs.resources import AmperityOpsResource
from amperity_ops.defs.schedules import (
    amperity_inventory_job,
    amperity_inventory_schedule,
    amperity_poll_job,
    amperity_poll_schedule,
)
from amperity_ops.defs.sensors import amperity_ingest_sensor, amperity_workflow_sla_sensor
from amperity_ops.defs.silence_job import silence_amperity_alerts
from amperity_ops.defs.translator import AmperityTranslator
from amperity_ops.services.catalog import REFRESH_HINT, default_catalog_dir, read_catalogs
from amperity_ops.services.clock import clock_from_env
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.settings import ConfigError, OpsConfig, load_ops_config

__all__ = ["build_amperity_defs", "load_asset_graph"]

log = logging.getLogger(__name__)


def _config_at_load(config_path: str | None, config: OpsConfig | None) -> OpsConfig | None:
    """The policy file, read at load for the asset graph; None when nothing is configured.

    A policy file that is given but wrong stops the load (``ConfigError`` names the file, the
    field and the fix). With no file and no ``AMPERITY_*`` tenant, the code location still
    loads (the polled assets and the stop job ask for a tenant when they run).
    """
    if config is not None:
        return config
    path = config_path or os.environ.get("AMPERITY_OPS_CONFIG") or None
    try:
        return load_ops_config(path)
    except ConfigError as err:
        if path:
            raise
        log.info("amperity-ops: no tenant configured at load (%s); no Amperity workflow "
                 "assets until one is", str(err).splitlines()[0])
        return None


def load_asset_graph(
    *,
    config: OpsConfig | None,
    translator: AmperityTranslator | None = None,
    catalog_dir: str | Path | None = None,
) -> AmperityAssetGraph:
    """The asset graph from the catalog files (no API call); empty without a config."""
    if config is None:
        return AmperityAssetGraph()
    directory = Path(catalog_dir) if catalog_dir else default_catalog_dir()
    catalogs = read_catalogs(directory, [t.name for t in config.tenants])
    graph = build_asset_graph(config, catalogs, translator or AmperityTranslator(),
                              time_mark=_catalog_time_mark(config))
    if graph.missing:
        log.warning("amperity-ops: no catalog in %s for %s: %s", directory,
                    ", ".join(graph.missing), REFRESH_HINT)
    return graph


def _catalog_time_mark(config: OpsConfig) -> str:
    """The mark of the clock the catalog was learned on (`` (sim)`` in the demo), else ``""``.

    Building the clock reads nothing (the simulator's is asked for the time only when read);
    a clock that cannot be built is reported by the runtime, not here.
    """
    try:
        return clock_mark(clock_from_env(config.tenants[0].base_url))
    except ValueError:
        return ""


def _runtime_resource(store_url: str | None, config: OpsConfig) -> ResourceDefinition:
    """A resource building the runtime from a config object (never put in run config: it may
    hold literal secrets)."""

    @resource(description="Amperity policy (given in Python), history store and clients.")
    def amperity_ops_runtime(_context: InitResourceContext) -> Iterator[OpsRuntime]:
        runtime = OpsRuntime.from_settings(store_url=store_url, config=config)
        try:
            yield runtime
        finally:
            runtime.close()

    return amperity_ops_runtime


def _renamed_sensor(
    original: SensorDefinition, name: str, job: JobDefinition | None = None
) -> SensorDefinition:
    """The same sensor under another name (and targeting a renamed job)."""

    @sensor(name=name, job=job, minimum_interval_seconds=original.minimum_interval_seconds,
            default_status=original.default_status, description=original.description)
    def renamed(context: SensorEvaluationContext, amperity_ops: ResourceParam[OpsRuntime]) -> Any:
        del amperity_ops  # declared so Dagster provides it; the original reads it from context
        result = original(context)
        if job is not None and isinstance(result, SensorResult) and result.run_requests:
            requests: list[RunRequest] = [
                r.with_replaced_attrs(job_name=job.name) for r in result.run_requests]
            return SensorResult(run_requests=requests, cursor=result.cursor,
                                skip_reason=result.skip_reason)
        return result

    return renamed


def build_amperity_defs(
    *,
    config_path: str | None = None,
    store_url: str | None = None,
    config: OpsConfig | None = None,
    translator: AmperityTranslator | None = None,
    catalog_dir: str | None = None,
    name_suffix: str = "",
) -> Definitions:
    """Amperity in a Dagster project: its asset graph, sensors, stop job, schedules, resource.

    Args:
        config_path: The policy file; None: ``$AMPERITY_OPS_CONFIG`` (no file: one tenant from
            the ``AMPERITY_*`` variables, or none).
        store_url: The history store; None: ``$AMPERITY_OPS_STORE_URL`` or the SQLite default.
        config: The policy file as Python instead of a path (its secrets never reach run
            config).
        translator: Keys, groups, owners, tags, descriptions and deps of the Amperity assets.
        catalog_dir: Where ``amperity-ops catalog refresh`` wrote the catalogs (default
            ``$AMPERITY_OPS_CATALOG_DIR``, else ``$DAGSTER_HOME/amperity_catalog``).
        name_suffix: Appended to every sensor, job and schedule name (``_prod``), for a second
            instance beside another.

    Returns:
        One ``Definitions``: the overview assets (``amperity/workflow_runs`` ...), one external
        asset per workflow and ingest table with checks, the SLA, ingest and asset-event
        sensors, the stop job, the polling schedules and the ``amperity_ops`` resource.

    Raises:
        amperity_ops.settings.ConfigError: A given policy file is invalid.
        ValueError: Two Amperity assets would share a key (names the fix).
    """
    loaded = _config_at_load(config_path, config)
    graph = load_asset_graph(config=loaded, translator=translator, catalog_dir=catalog_dir)
    resource_def: Any = (
        _runtime_resource(store_url, config) if config is not None
        else AmperityOpsResource(config_path=config_path, store_url=store_url)
    )
    sfx = name_suffix
    checks = build_checks(graph, name=f"amperity_workflow_checks{sfx}")
    events_sensor = build_asset_events_sensor(graph, name=f"{ASSET_EVENTS_SENSOR_NAME}{sfx}")

    stop_job: JobDefinition = stop_amperity_workflow_run
    silence_job: JobDefinition = silence_amperity_alerts
    poll_job: Any = amperity_poll_job
    inventory_job: Any = amperity_inventory_job
    poll_schedule, inventory_schedule = amperity_poll_schedule, amperity_inventory_schedule
    sla_sensor, ingest_sensor = amperity_workflow_sla_sensor, amperity_ingest_sensor
    checks_job, checks_sensor = amperity_checks_job, amperity_checks_after_poll
    if sfx:
        stop_job = stop_amperity_workflow_run.graph.to_job(
            name=f"{stop_amperity_workflow_run.name}{sfx}",
            description=stop_amperity_workflow_run.description,
            tags=stop_amperity_workflow_run.tags,
        )
        silence_job = silence_amperity_alerts.graph.to_job(
            name=f"{silence_amperity_alerts.name}{sfx}",
            description=silence_amperity_alerts.description,
            tags=silence_amperity_alerts.tags,
        )
        poll_job = define_asset_job(f"amperity_poll_job{sfx}", selection=POLLING_ASSETS,
                                    description=amperity_poll_job.description)
        inventory_job = define_asset_job(f"amperity_inventory_job{sfx}",
                                         selection=INVENTORY_ASSETS,
                                         description=amperity_inventory_job.description)
        poll_schedule = ScheduleDefinition(
            name=f"{amperity_poll_schedule.name}{sfx}", job=poll_job,
            cron_schedule=amperity_poll_schedule.cron_schedule, execution_timezone="UTC",
            default_status=amperity_poll_schedule.default_status,
            description=amperity_poll_schedule.description)
        inventory_schedule = ScheduleDefinition(
            name=f"{amperity_inventory_schedule.name}{sfx}", job=inventory_job,
            cron_schedule=amperity_inventory_schedule.cron_schedule, execution_timezone="UTC",
            default_status=amperity_inventory_schedule.default_status,
            description=amperity_inventory_schedule.description)
        checks_job, checks_sensor = build_checks_after_poll(poll_job, sfx)
        sla_sensor = _renamed_sensor(amperity_workflow_sla_sensor,
                                     f"{amperity_workflow_sla_sensor.name}{sfx}", stop_job)
        ingest_sensor = _renamed_sensor(amperity_ingest_sensor,
                                        f"{amperity_ingest_sensor.name}{sfx}")
    assets: list[Any] = [*POLLING_ASSETS, *INVENTORY_ASSETS, *graph.specs]
    return Definitions(
        assets=assets,
        asset_checks=[workflow_runs_checks, ingest_jobs_checks,
                      *([checks] if checks is not None else [])],
        jobs=[stop_job, silence_job, poll_job, inventory_job, checks_job],
        schedules=[poll_schedule, inventory_schedule],
        sensors=[sla_sensor, ingest_sensor, events_sensor, checks_sensor],
        resources={RESOURCE_KEY: resource_def},
    )

