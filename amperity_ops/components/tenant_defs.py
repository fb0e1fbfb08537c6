"""The definitions one Component instance contributes: one tenant, its own names and resource.

:func:`tenant_definitions` is the one place the Component builds ``Definitions``. It uses
``amperity_ops.defs.factory.build_amperity_defs`` (the asset-graph part of issue 8) when that
exists; until then it builds a stand-in from today's pieces (documented below), so the
Component, its state and ``dg`` work now and the lead swaps one call at merge.

Names: every sensor, job, op and the resource key get ``name_suffix``, so two instances (two
tenants, or production and a sandbox) sit side by side in one code location, each with its own
client and rate budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dagster import AssetKey, AssetSpec, Definitions

from amperity_ops.components.state import TenantState
from amperity_ops.defs.indexes import build_index_defs
from amperity_ops.defs.inline_runtime import inline_runtime_resource
from amperity_ops.defs.resources import RESOURCE_KEY
from amperity_ops.defs.start import build_startable_workflow_assets
from amperity_ops.defs.unit_keys import slug, workflow_key
from amperity_ops.settings import OpsConfig

__all__ = ["TranslationFn", "resource_key_for", "tenant_definitions"]

TranslationFn = Callable[[AssetSpec, Mapping[str, Any]], AssetSpec]
"""``(default spec, unit) -> spec``: the Component's ``translation`` (YAML)."""


def resource_key_for(name_suffix: str) -> str:
    """``amperity_ops`` plus the suffix, as a valid resource key."""
    return RESOURCE_KEY + "".join(c if c.isalnum() or c == "_" else "_" for c in name_suffix)


def tenant_definitions(
    config: OpsConfig,
    state: TenantState | None,
    *,
    store_url: str | None,
    translation: TranslationFn | None,
    name_suffix: str,
) -> Definitions:
    """Everything one Component instance adds to the code location.

    Args:
        config: The validated policy with exactly one tenant.
        state: The refreshed catalog and indexes; None before the first refresh.
        store_url: The history store (None: ``AMPERITY_OPS_STORE_URL`` or the default file).
        translation: Overrides of keys, groups, owners, tags, descriptions and deps.
        name_suffix: Appended to every sensor, job and op name and to the resource key.

    Returns:
        The definitions.
    """
    tenant = config.tenants[0].name
    resource_key = resource_key_for(name_suffix)
    specs = _unit_specs(tenant, state, translation)
    spec_by_name = {s.metadata["amperity/workflow"]: s for s in specs
                    if "amperity/workflow" in s.metadata}
    startable = build_startable_workflow_assets(
        tenant, config.startable, resource_key=resource_key, name_suffix=name_suffix,
        spec_for=lambda name, config_id: spec_by_name.get(name) or _translated(
            _workflow_spec(tenant, {"name": name, "config_id": config_id}), translation,
            {"kind": "workflow", "tenant": tenant, "name": name, "config_id": config_id}),
    )
    started_keys = {key for asset in startable for key in asset.keys}
    externals = [s for s in specs if s.key not in started_keys]
    indexes = build_index_defs(tenant, state.indexes if state else {}, config.indexes,
                               resource_key=resource_key, name_suffix=name_suffix)
    pieces = [
        Definitions(assets=[*externals, *startable],
                    resources={resource_key: inline_runtime_resource(config, store_url)}),
        indexes,
    ]
    factory = _real_factory()
    if factory is not None:  # pragma: no cover - wired by the lead when asset-graph lands
        pieces.append(factory(config=config, store_url=store_url, name_suffix=name_suffix))
    elif not name_suffix:
        pieces.append(_todays_monitor())
    return Definitions.merge(*pieces)


def _real_factory() -> Callable[..., Definitions] | None:
    try:
        from amperity_ops.defs.factory import build_amperity_defs
    except ImportError:
        return None
    return build_amperity_defs


def _todays_monitor() -> Definitions:
    """Today's polled assets, sensors and jobs (fixed names, resource key ``amperity_ops``).

    Only an instance without a suffix can hold them (their names cannot be suffixed before the
    factory lands): the stand-in for ``build_amperity_defs`` until the merge.
    """
    from amperity_ops.defs.assets import INVENTORY_ASSETS, POLLING_ASSETS
    from amperity_ops.defs.jobs import stop_amperity_workflow_run
    from amperity_ops.defs.schedules import (
        amperity_inventory_job,
        amperity_inventory_schedule,
        amperity_poll_job,
        amperity_poll_schedule,
    )
    from amperity_ops.defs.sensors import amperity_ingest_sensor, amperity_workflow_sla_sensor

    return Definitions(
        assets=[*POLLING_ASSETS, *INVENTORY_ASSETS],
        jobs=[stop_amperity_workflow_run, amperity_poll_job, amperity_inventory_job],
        schedules=[amperity_poll_schedule, amperity_inventory_schedule],
        sensors=[amperity_workflow_sla_sensor, amperity_ingest_sensor],
    )


def _workflow_spec(tenant: str, unit: Mapping[str, Any]) -> AssetSpec:
    name = str(unit["name"])
    kind = unit.get("type") or "workflow"
    return AssetSpec(
        key=workflow_key(tenant, name, type_=unit.get("type"), config_id=unit.get("config_id")),
        kinds={"amperity"},
        group_name="amperity",
        description=f"Amperity {kind} {name!r} (tenant {tenant}).",
        metadata={"amperity/workflow": name, "amperity/tenant": tenant},
    )


def _table_spec(tenant: str, unit: Mapping[str, Any], loaders: Mapping[str, AssetKey]) -> AssetSpec:
    name = str(unit["name"])
    loader = loaders.get(str(unit.get("workflow", "")))
    return AssetSpec(
        key=AssetKey(["amperity", tenant, "tables", slug(name)]),
        kinds={"amperity"},
        group_name="amperity",
        deps=[loader] if loader else [],
        description=f"Amperity ingest table {name!r} (tenant {tenant})"
        + (f", loaded by {unit['workflow']!r}." if loader else "."),
        metadata={"amperity/table": name, "amperity/tenant": tenant},
    )


def _translated(spec: AssetSpec, translation: TranslationFn | None,
                unit: Mapping[str, Any]) -> AssetSpec:
    return translation(spec, unit) if translation else spec


def _unit_specs(
    tenant: str, state: TenantState | None, translation: TranslationFn | None
) -> list[AssetSpec]:
    """External specs for the catalog's workflows and tables (stand-in for the translator)."""
    if state is None:
        return []
    workflows = [
        _translated(_workflow_spec(tenant, w), translation, {"kind": "workflow", "tenant": tenant,
                                                           **w})
        for w in state.workflows
    ]
    loaders = {str(s.metadata["amperity/workflow"]): s.key for s in workflows}
    tables = [
        _translated(_table_spec(tenant, t, loaders), translation, {"kind": "table",
                                                                  "tenant": tenant, **t})
        for t in state.tables
    ]
    return [*workflows, *tables]
