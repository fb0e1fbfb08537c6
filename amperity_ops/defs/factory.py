"""``build_amperity_defs``: everything amperity-ops puts in a Dagster project, as one call.

The shipped code location (``amperity_ops.definitions:defs``) and the demo are built here, and
so is Amperity in your own project::

    defs = dg.Definitions.merge(my_defs, build_amperity_defs(config_path="amperity.yaml"))

Loading reads the policy file and the catalog files (``amperity-ops catalog refresh`` writes
them) and never calls the Amperity API; the store is opened only when a run or tick starts.
"""

# No `from __future__ import annotations`: Dagster reads the sensor's annotations.

import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import (
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Definitions,
    ScheduleDefinition,
    define_asset_job,
)

from amperity_ops.core.clock import clock_mark
from amperity_ops.defs.asset_event_sensor import ASSET_EVENTS_SENSOR_NAME, build_asset_events_sensor
from amperity_ops.defs.asset_graph import (
    AmperityAssetGraph,
    build_asset_graph,
    build_checks,
    sla_words,
)
from amperity_ops.defs.assets import build_overview_assets
from amperity_ops.defs.check_runs import (
    amperity_checks_after_poll,
    amperity_checks_job,
    ingest_jobs_checks,
    workflow_runs_checks,
)
from amperity_ops.defs.indexes import build_index_defs
from amperity_ops.defs.inline_runtime import inline_runtime_resource
from amperity_ops.defs.instance_names import resource_key_for, suffixed
from amperity_ops.defs.jobs import build_stop_job
from amperity_ops.defs.resources import AmperityOpsResource
from amperity_ops.defs.schedules import (
    amperity_inventory_job,
    amperity_inventory_schedule,
    amperity_poll_job,
    amperity_poll_schedule,
)
from amperity_ops.defs.sensors import DEFAULT_INTERVAL_S, build_ingest_sensor, build_sla_sensor
from amperity_ops.defs.silence_job import build_silence_job
from amperity_ops.defs.start import build_startable_workflow_assets
from amperity_ops.defs.stop_batch_job import build_batch_stop_job, stop_amperity_workflow_runs
from amperity_ops.defs.translator import (
    AmperityTranslator,
    AmperityWorkflowProps,
    startable_workflow,
)
from amperity_ops.monitoring.catalog import Catalog, slugify
from amperity_ops.services.catalog import REFRESH_HINT, default_catalog_dir, read_catalogs
from amperity_ops.services.clock import clock_from_env
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
    catalogs: Mapping[str, Catalog | None] | None = None,
) -> AmperityAssetGraph:
    """The asset graph from the catalogs (no API call); empty without a config.

    ``catalogs`` (tenant -> catalog, e.g. a Component's state) wins over the catalog files.
    """
    if config is None:
        return AmperityAssetGraph()
    names = [t.name for t in config.tenants]
    if catalogs is not None:
        found = {name: catalogs.get(name) for name in names}
        where = "the component's state (`dg utils refresh-defs-state`)"
    else:
        directory = Path(catalog_dir) if catalog_dir else default_catalog_dir()
        found = read_catalogs(directory, names)
        where = str(directory)
    graph = build_asset_graph(config, found, translator or AmperityTranslator(),
                              time_mark=_catalog_time_mark(config))
    if graph.missing:
        log.warning("amperity-ops: no catalog in %s for %s: %s", where,
                    ", ".join(graph.missing), REFRESH_HINT)
    return graph


def _catalog_time_mark(config: OpsConfig) -> str:
    """The mark of the clock the catalog was learned on (`` (sim)`` in the demo), else ``""``.

    Building the clock reads nothing (the simulator's is asked for the time only when read)
    and it is closed at once, so loading leaves no HTTP client behind; a clock that cannot be
    built is reported by the runtime, not here.
    """
    try:
        clock = clock_from_env(config.tenants[0].base_url)
    except ValueError:
        return ""
    close = getattr(clock, "close", None)
    if callable(close):
        close()
    return clock_mark(clock)


def _startable(
    config: OpsConfig, graph: AmperityAssetGraph, translator: AmperityTranslator, *,
    resource_key: str, name_suffix: str,
) -> list[AssetsDefinition]:
    """The startable workflows' assets, each with its external spec's key (and deps ...).

    A startable workflow belongs to the first tenant whose catalog has it, else to the first
    tenant; one not in any catalog yet gets the translator's spec, its type read from the
    config id's prefix.
    """
    assets: list[AssetsDefinition] = []
    spec_by_key = {s.key: s for s in graph.specs}
    for tenant in config.tenants:
        names = {name: cid for name, cid in config.startable.items()
                 if (tenant.name, name) in graph.workflow_keys
                 or (tenant is config.tenants[0]
                     and not any((t.name, name) in graph.workflow_keys for t in config.tenants))}
        if not names:
            continue

        def spec_for(name: str, config_id: str, tenant_name: str = tenant.name) -> AssetSpec:
            key = graph.workflow_keys.get((tenant_name, name))
            if key is not None:
                return spec_by_key[key]
            wf = startable_workflow(name, config_id)
            return translator.get_workflow_spec(AmperityWorkflowProps(
                tenant=tenant_name, workflow=wf, sla=sla_words(name, wf.type, config.policies),
                freshness=None, link=None, catalog_refreshed_at=None))

        assets += build_startable_workflow_assets(
            tenant.name, names, spec_for=spec_for, resource_key=resource_key,
            name_suffix=name_suffix)
    return assets


def _index_defs(
    config: OpsConfig, indexes: Mapping[str, Mapping[str, str]], translator: AmperityTranslator,
    *, resource_key: str, name_suffix: str,
) -> list[Definitions]:
    """Each tenant's profile index assets, checks and sensor (names get the tenant when the
    policy has several tenants)."""
    many = len(config.tenants) > 1
    return [
        build_index_defs(
            tenant.name, indexes.get(tenant.name, {}), config.indexes,
            key_fn=translator.get_index_key, group_name=translator.get_group_name(tenant.name),
            resource_key=resource_key,
            name_suffix=f"_{slugify(tenant.name)}{name_suffix}" if many else name_suffix,
        )
        for tenant in config.tenants
    ]


def build_amperity_defs(
    *,
    config_path: str | None = None,
    store_url: str | None = None,
    config: OpsConfig | None = None,
    translator: AmperityTranslator | None = None,
    catalog_dir: str | None = None,
    name_suffix: str = "",
    catalogs: Mapping[str, Catalog | None] | None = None,
    indexes: Mapping[str, Mapping[str, str]] | None = None,
) -> Definitions:
    """Amperity in a Dagster project: its asset graph, sensors, jobs, schedules, resource.

    Args:
        config_path: The policy file; None: ``$AMPERITY_OPS_CONFIG`` (no file: one tenant from
            the ``AMPERITY_*`` variables, or none).
        store_url: The history store; None: ``$AMPERITY_OPS_STORE_URL`` or the SQLite default.
        config: The policy file as Python instead of a path (its secrets never reach run
            config).
        translator: Keys, groups, owners, tags, descriptions and deps of the Amperity assets.
        catalog_dir: Where ``amperity-ops catalog refresh`` wrote the catalogs (default
            ``$AMPERITY_OPS_CATALOG_DIR``, else ``$DAGSTER_HOME/amperity_catalog``).
        name_suffix: For a second instance beside another (``_eu``): appended to every sensor,
            job, schedule, op, check and the resource key (``amperity_ops_eu``); the overview
            assets move to ``amperity/eu/workflow_runs`` ... Empty: the plain names.
        catalogs: Tenant -> catalog, instead of the catalog files (the Component's state).
        indexes: Tenant -> {profile index id: name} known at load (the Component's state);
            the canaries' indexes are added either way.

    Returns:
        One ``Definitions``: the overview assets (``amperity/workflow_runs`` ...), one external
        asset per workflow and ingest table with checks (a ``startable`` workflow's asset is
        materializable instead: materializing it starts the workflow), the profile index
        assets, checks and sensor, the SLA, ingest and asset-event sensors, the stop and
        silence jobs, the polling schedules and the resource.

    Raises:
        amperity_ops.settings.ConfigError: A given policy file is invalid.
        ValueError: Two Amperity assets would share a key (names the fix).
    """
    loaded = _config_at_load(config_path, config)
    translator = translator or AmperityTranslator()
    graph = load_asset_graph(config=loaded, translator=translator, catalog_dir=catalog_dir,
                             catalogs=catalogs)
    sfx = name_suffix
    rk = resource_key_for(sfx)
    resource_def: Any = (
        inline_runtime_resource(config, store_url) if config is not None
        else AmperityOpsResource(config_path=config_path, store_url=store_url)
    )
    checks = build_checks(graph, name=suffixed("amperity_workflow_checks", sfx), resource_key=rk)
    events_sensor = build_asset_events_sensor(
        graph, name=suffixed(ASSET_EVENTS_SENSOR_NAME, sfx), resource_key=rk)
    stop_job = build_stop_job(sfx)
    batch_stop_job = stop_amperity_workflow_runs if not sfx else build_batch_stop_job(sfx)
    polling, inventory = build_overview_assets(sfx)
    poll_job: Any = amperity_poll_job
    inventory_job: Any = amperity_inventory_job
    poll_schedule, inventory_schedule = amperity_poll_schedule, amperity_inventory_schedule
    if sfx:
        poll_job = define_asset_job(suffixed("amperity_poll_job", sfx), selection=polling,
                                    description=amperity_poll_job.description)
        inventory_job = define_asset_job(suffixed("amperity_inventory_job", sfx),
                                         selection=inventory,
                                         description=amperity_inventory_job.description)
        poll_schedule = ScheduleDefinition(
            name=suffixed(amperity_poll_schedule.name, sfx), job=poll_job,
            cron_schedule=amperity_poll_schedule.cron_schedule, execution_timezone="UTC",
            default_status=amperity_poll_schedule.default_status,
            description=amperity_poll_schedule.description)
        inventory_schedule = ScheduleDefinition(
            name=suffixed(amperity_inventory_schedule.name, sfx), job=inventory_job,
            cron_schedule=amperity_inventory_schedule.cron_schedule, execution_timezone="UTC",
            default_status=amperity_inventory_schedule.default_status,
            description=amperity_inventory_schedule.description)
    startable: list[AssetsDefinition] = []
    index_defs: list[Definitions] = []
    if loaded is not None:
        startable = _startable(loaded, graph, translator, resource_key=rk, name_suffix=sfx)
        index_defs = _index_defs(loaded, indexes or {}, translator, resource_key=rk,
                                 name_suffix=sfx)
    started: set[AssetKey] = {key for a in startable for key in a.keys}
    # Dagster fixes a sensor's interval at load: the policy file's, when it is read here.
    interval_s = (math.ceil(loaded.sensor.interval.total_seconds()) if loaded is not None
                  else DEFAULT_INTERVAL_S)
    externals = [s for s in graph.specs if s.key not in started]
    assets: list[Any] = [*polling, *inventory, *externals, *startable]
    # The shipped overview assets report their checks in a short run of their own after each
    # poll (defs/check_runs.py); a suffixed instance's assets report theirs inline.
    own_run_checks = [] if sfx else [workflow_runs_checks, ingest_jobs_checks]
    checks_jobs = [] if sfx else [amperity_checks_job]
    checks_sensors = [] if sfx else [amperity_checks_after_poll]
    return Definitions.merge(
        Definitions(
            assets=assets,
            asset_checks=[*own_run_checks, *([checks] if checks is not None else [])],
            jobs=[stop_job, batch_stop_job, build_silence_job(sfx), poll_job, inventory_job,
                  *checks_jobs],
            schedules=[poll_schedule, inventory_schedule],
            sensors=[build_sla_sensor(sfx, stop_job, batch_stop_job, interval_s),
                     build_ingest_sensor(sfx, interval_s), events_sensor, *checks_sensors],
            resources={rk: resource_def},
        ),
        *index_defs,
    )
