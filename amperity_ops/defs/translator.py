"""Amperity units -> Dagster ``AssetSpec``: keys, groups, owners, tags, descriptions, deps.

Like ``DagsterFivetranTranslator``: subclass :class:`AmperityTranslator` and override
``get_workflow_spec`` / ``get_table_spec`` (or just the key methods) to change what Dagster
shows; or set an :class:`AmperityTranslation` (YAML-able: the Component's ``translation``) for
the common changes without code. Default keys::

    amperity/<tenant>/courier_groups/<slug>       courier.group/run
    amperity/<tenant>/orchestration_groups/<slug> orchestration.group/run
    amperity/<tenant>/campaigns/<slug>            campaign.send
    amperity/<tenant>/workflows/<slug>            every other workflow type
    amperity/<tenant>/tables/<slug>               an ingest table

where ``<slug>`` is the name lowercased, each run of characters outside ``a-z0-9`` made ``_``,
trimmed (``monitoring.catalog.slugify``); ``<tenant>`` is the tenant's name, slugged the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dagster import AssetKey, AssetSpec, FreshnessPolicy, MetadataValue
from pydantic import BaseModel, ConfigDict, Field

from amperity_ops.core.durations import format_duration
from amperity_ops.monitoring.catalog import (
    TABLE_SEGMENT,
    CatalogTable,
    CatalogWorkflow,
    kind_segment,
    slugify,
)
from amperity_ops.monitoring.freshness import FreshnessRule

INDEX_SEGMENT = "indexes"

__all__ = [
    "DEFAULT_OWNERS",
    "AmperityTableProps",
    "AmperityTranslation",
    "AmperityTranslator",
    "AmperityWorkflowProps",
    "parse_key",
    "startable_workflow",
]

DEFAULT_OWNERS = ("team:data-platform",)
_TYPE_WORDS = {
    "courier.group/run": "courier group",
    "orchestration.group/run": "orchestration group",
    "campaign.send": "campaign",
}


_TYPE_BY_CONFIG_PREFIX = {
    "cg": "courier.group/run",
    "og": "orchestration.group/run",
    "cc": "campaign.send",
}


def startable_workflow(name: str, config_id: str) -> CatalogWorkflow:
    """A startable workflow the catalog has not seen run: its type from the config id's prefix
    (``cg-`` courier group, ``og-`` orchestration group, ``cc-`` campaign), so its key is the
    one the catalog will give it."""
    prefix = config_id.split("-", 1)[0] if "-" in config_id else ""
    return CatalogWorkflow(name=name, type=_TYPE_BY_CONFIG_PREFIX.get(prefix, "workflow"))


def parse_key(text: str) -> AssetKey:
    """``"dbt/sources/orders"`` -> ``AssetKey(["dbt", "sources", "orders"])``."""
    parts = [p for p in text.strip().split("/") if p]
    if not parts:
        raise ValueError(f"an asset key needs at least one part, got {text!r}")
    return AssetKey(parts)


class AmperityTranslation(BaseModel):
    """Changes to the default asset specs that need no code (YAML: the Component's
    ``translation:``). Names are Amperity's workflow or table names, exactly."""

    model_config = ConfigDict(extra="forbid")

    key_prefix: list[str] = Field(
        default_factory=lambda: ["amperity"],
        description="The first parts of every key, before the tenant (default: amperity).",
    )
    group: str | None = Field(
        default=None,
        description="The asset group of every Amperity asset (default: amperity_<tenant>).",
    )
    owners: list[str] = Field(
        default_factory=lambda: list(DEFAULT_OWNERS),
        description="Owners of every Amperity asset (team:name or an email).",
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Tags on every asset.")
    keys: dict[str, str] = Field(
        default_factory=dict,
        description="Workflow or table name -> its asset key as 'a/b/c' (e.g. the key of the "
        "dbt source an Amperity destination feeds, so lineage continues into dbt).",
    )
    descriptions: dict[str, str] = Field(
        default_factory=dict,
        description="Workflow or table name -> a paragraph put first in its description.",
    )
    deps: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Workflow or table name -> keys ('a/b') of your assets it depends on. "
        "For the other direction, give your asset a dep on the Amperity asset's key.",
    )


@dataclass(frozen=True)
class AmperityWorkflowProps:
    """What the translator knows of one workflow."""

    tenant: str
    workflow: CatalogWorkflow
    sla: str
    """The SLA policy that applies, in words."""
    freshness: FreshnessRule | None
    link: str | None
    """Its last run in the Amperity app, when the tenant has ``app_url``."""
    catalog_refreshed_at: datetime | None
    """None: a startable workflow the catalog has not seen run yet."""
    time_mark: str = ""
    """Follows every time shown (`` (sim)`` when the times are the demo simulator's)."""


@dataclass(frozen=True)
class AmperityTableProps:
    """What the translator knows of one ingest table."""

    tenant: str
    table: CatalogTable
    loaded_by: tuple[AssetKey, ...]
    """The keys of the workflows that load it."""
    catalog_refreshed_at: datetime
    time_mark: str = ""
    """Follows every time shown (`` (sim)`` when the times are the demo simulator's)."""


class AmperityTranslator:
    """Builds the ``AssetSpec`` of each Amperity workflow and table. Subclass to change it.

    Args:
        translation: Overrides that need no code (keys, group, owners, tags, descriptions,
            deps); the defaults give the keys in this module's docstring.
    """

    def __init__(self, translation: AmperityTranslation | None = None) -> None:
        self.translation = translation or AmperityTranslation()

    # -- keys ------------------------------------------------------------------------------

    def _key(self, tenant: str, segment: str, name: str) -> AssetKey:
        explicit = self.translation.keys.get(name)
        if explicit:
            return parse_key(explicit)
        return AssetKey([*self.translation.key_prefix, slugify(tenant), segment, slugify(name)])

    def get_workflow_key(self, props: AmperityWorkflowProps) -> AssetKey:
        """``amperity/<tenant>/<kind segment>/<slug>`` unless ``translation.keys`` says."""
        return self._key(props.tenant, kind_segment(props.workflow.type), props.workflow.name)

    def get_table_key(self, props: AmperityTableProps) -> AssetKey:
        """``amperity/<tenant>/tables/<slug>`` unless ``translation.keys`` says."""
        return self._key(props.tenant, TABLE_SEGMENT, props.table.name)

    # -- shared parts ----------------------------------------------------------------------

    def get_index_key(self, tenant: str, index_name: str) -> AssetKey:
        """``amperity/<tenant>/indexes/<slug>`` unless ``translation.keys`` says."""
        return self._key(tenant, INDEX_SEGMENT, index_name)

    def get_group_name(self, tenant: str) -> str:
        """``translation.group``, else ``amperity_<tenant slug>``."""
        return self.translation.group or f"amperity_{slugify(tenant)}"

    def _description(self, name: str, body: str) -> str:
        extra = self.translation.descriptions.get(name)
        return f"{extra}\n\n{body}" if extra else body

    def _deps(self, name: str) -> list[AssetKey]:
        return [parse_key(k) for k in self.translation.deps.get(name, [])]

    # -- specs -----------------------------------------------------------------------------

    def get_workflow_spec(self, props: AmperityWorkflowProps) -> AssetSpec:
        """The spec of a workflow: external (no Dagster run makes it), kind ``amperity``."""
        wf = props.workflow
        what = _TYPE_WORDS.get(wf.type, "workflow")
        lines = [
            f"Amperity {what} **{wf.name}** of tenant `{props.tenant}` (type `{wf.type}`). "
            "A successful run in Amperity materializes this asset; a failed, stopped or "
            "cancelled one turns its `last_run_succeeded` check red instead.",
            f"- SLA: {props.sla}",
            "- Freshness: " + (props.freshness.describe() if props.freshness else
                               "none yet (fewer than 3 successful runs seen; set "
                               "`fresh_within` on its policy)"),
            f"- Last run: {_run_line(wf, props.time_mark)}",
        ]
        if props.link:
            lines.append(f"- In Amperity: {props.link}")
        if wf.tables:
            lines.append(f"- Loads tables: {', '.join(wf.tables)}")
        lines.append(
            f"- Catalog learned {props.catalog_refreshed_at:%Y-%m-%d %H:%M} UTC{props.time_mark}; "
            "`amperity-ops catalog refresh` updates it." if props.catalog_refreshed_at else
            "- Not in the catalog yet (no run seen); `amperity-ops catalog refresh` learns it.")
        freshness = (
            FreshnessPolicy.time_window(fail_window=props.freshness.fail_window,
                                        warn_window=props.freshness.warn_window)
            if props.freshness else None
        )
        metadata: dict[str, Any] = {
            "amperity/tenant": props.tenant,
            "amperity/workflow_name": wf.name,
            "amperity/workflow_type": wf.type,
            "amperity/sla": props.sla,
        }
        if wf.cadence is not None:
            metadata["amperity/cadence"] = format_duration(wf.cadence)
        if props.link:
            metadata["amperity/last_run_link"] = MetadataValue.url(props.link)
        return AssetSpec(
            key=self.get_workflow_key(props),
            description=self._description(wf.name, "\n".join(lines)),
            group_name=self.get_group_name(props.tenant),
            owners=list(self.translation.owners),
            tags=dict(self.translation.tags),
            kinds={"amperity"},
            deps=self._deps(wf.name),
            metadata=metadata,
            freshness_policy=freshness,
        )

    def get_table_spec(self, props: AmperityTableProps) -> AssetSpec:
        """The spec of an ingest table: depends on the workflows that load it."""
        table = props.table
        loaded = (", ".join(table.loaded_by) if table.loaded_by
                  else "no workflow seen (its ingest jobs' runs were not in the window)")
        last = (f"{table.last_loaded_at:%Y-%m-%d %H:%M} UTC{props.time_mark} "
                f"(ingest job {table.last_job_id})"
                if table.last_loaded_at else "not seen")
        body = "\n".join([
            f"Amperity ingest table **{table.name}** of tenant `{props.tenant}`. Materialized "
            "when a feed into it succeeds, with rows read, inserted, updated, rejected and "
            "errors as numbers.",
            f"- Loaded by: {loaded}",
            f"- Last load seen by the catalog: {last}",
        ])
        return AssetSpec(
            key=self.get_table_key(props),
            description=self._description(table.name, body),
            group_name=self.get_group_name(props.tenant),
            owners=list(self.translation.owners),
            tags=dict(self.translation.tags),
            kinds={"amperity"},
            deps=[*props.loaded_by, *self._deps(table.name)],
            metadata={"amperity/tenant": props.tenant, "amperity/table": table.name},
        )


def _run_line(wf: CatalogWorkflow, time_mark: str = "") -> str:
    run = wf.last_run
    if run is None:
        return "none seen"
    when = f"{run.ended_at:%Y-%m-%d %H:%M} UTC{time_mark}" if run.ended_at else "in flight"
    who = f", launched by {run.launched_by}" if run.launched_by else ""
    return f"{run.state} `{run.id}` ({when}{who}; as of the catalog)"
