"""A tenant's catalog, learned from what its workflows did: the units Dagster shows as assets.

Amperity's API has no "list my workflows" call, so the catalog is learned from recent history:
each workflow (by type and name) that ran, its last run and last success, the cadence of its
successful runs, each table an ingest job loaded, and which workflow loaded it (an ingest job's
``workflow_id`` is the run that loaded it). Pure: the service reads the API and writes the
result where the Dagster code location reads it at load (loading never calls the API).
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from statistics import median

from pydantic import BaseModel, ConfigDict, Field

from amperity_ops.client.models import IngestJob, StateKind, WorkflowRun

__all__ = [
    "CATALOG_VERSION",
    "MIN_CADENCE_SAMPLES",
    "Catalog",
    "CatalogRun",
    "CatalogTable",
    "CatalogWorkflow",
    "kind_segment",
    "learn_cadence",
    "learn_catalog",
    "merge_known",
    "slugify",
]

CATALOG_VERSION = 1
MIN_CADENCE_SAMPLES = 2
"""Intervals between successful runs needed before a cadence is learned (so 3 successes): one
interval could be a re-run by hand."""

_NOT_SLUG = re.compile(r"[^a-z0-9]+")

_KIND_SEGMENTS = {
    "courier.group/run": "courier_groups",
    "orchestration.group/run": "orchestration_groups",
    "campaign.send": "campaigns",
}
"""Workflow type -> the key segment that keeps a courier group and a campaign of the same name
apart; every other type is a plain ``workflows``."""
TABLE_SEGMENT = "tables"


def slugify(text: str) -> str:
    """Lowercase; every run of characters outside ``a-z0-9`` becomes ``_``; trimmed of ``_``.

    ``"Daily Ecommerce Sources"`` -> ``daily_ecommerce_sources``; an empty result (``"!!"``)
    becomes ``_`` so it is still a valid key segment.
    """
    return _NOT_SLUG.sub("_", text.lower()).strip("_") or "_"


def kind_segment(workflow_type: str) -> str:
    """The key segment of a workflow type: ``courier_groups``, ``orchestration_groups``,
    ``campaigns``, else ``workflows``."""
    return _KIND_SEGMENTS.get(workflow_type, "workflows")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CatalogRun(_Model):
    """One run as the catalog remembers it (enough for a description and a link)."""

    id: str
    state: str
    """The wire state (``succeeded``, ``failed`` ...)."""
    created_at: datetime | None = None
    ended_at: datetime | None = None
    launched_by: str | None = None

    @classmethod
    def of(cls, run: WorkflowRun) -> CatalogRun:
        """The catalog's view of an API run."""
        return cls(id=run.id, state=run.state.raw, created_at=run.created_at,
                   ended_at=run.ended_at,
                   launched_by=run.principal_name or run.principal_email or run.principal_id)


class CatalogWorkflow(_Model):
    """A workflow (type and name) that ran in the learning window."""

    name: str
    type: str
    runs: int = 0
    successes: int = 0
    last_run: CatalogRun | None = None
    last_success: CatalogRun | None = None
    cadence: timedelta | None = None
    """The median interval between the ends of successive successful runs; None with fewer
    than ``MIN_CADENCE_SAMPLES`` intervals."""
    tables: list[str] = Field(default_factory=list)
    """Tables its ingest jobs loaded."""


class CatalogTable(_Model):
    """A table an ingest job loaded in the learning window."""

    name: str
    loaded_by: list[str] = Field(default_factory=list)
    """Names of the workflows whose runs loaded it (from the ingest job's ``workflow_id``)."""
    last_job_id: str | None = None
    last_loaded_at: datetime | None = None


class Catalog(_Model):
    """What one tenant runs: its workflows and ingest tables, and who loads what."""

    version: int = CATALOG_VERSION
    tenant: str
    refreshed_at: datetime
    days: int
    """How many days of history it was learned from."""
    workflows: list[CatalogWorkflow] = Field(default_factory=list)
    tables: list[CatalogTable] = Field(default_factory=list)

    def workflow(self, name: str) -> CatalogWorkflow | None:
        """The workflow with this name (the first of its types), or None."""
        return next((w for w in self.workflows if w.name == name), None)


def learn_cadence(success_ends: Iterable[datetime]) -> timedelta | None:
    """The typical interval between successful runs: the median gap between their ends.

    The median, not the mean: a re-run by hand or one missed day does not move it.

    Args:
        success_ends: When successful runs ended (any order).

    Returns:
        The cadence, or None with fewer than ``MIN_CADENCE_SAMPLES`` positive gaps.
    """
    ends = sorted(set(success_ends))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ends)]
    gaps = [g for g in gaps if g > 0]
    if len(gaps) < MIN_CADENCE_SAMPLES:
        return None
    return timedelta(seconds=round(median(gaps)))


def _finished(run: WorkflowRun) -> bool:
    return run.state.is_terminal or (run.state.is_unknown and run.ended_at is not None)


def learn_catalog(
    tenant: str,
    runs: Iterable[WorkflowRun],
    jobs: Iterable[IngestJob],
    *,
    now: datetime,
    days: int,
) -> Catalog:
    """Learn a tenant's catalog from its recent runs and ingest jobs.

    Args:
        tenant: The tenant's name.
        runs: Workflow runs of the learning window (any order, duplicates allowed).
        jobs: Ingest jobs of the same window.
        now: When it was learned.
        days: The window's length, for the record.

    Returns:
        Workflows sorted by type and name, tables by name.
    """
    by_id: dict[str, WorkflowRun] = {}
    for run in runs:
        by_id[run.id] = run
    grouped: dict[tuple[str, str], list[WorkflowRun]] = defaultdict(list)
    for run in by_id.values():
        grouped[(run.type, run.name)].append(run)

    loaded: dict[str, set[str]] = defaultdict(set)  # table -> workflow names
    tables_of: dict[str, set[str]] = defaultdict(set)  # workflow name -> tables
    last_load: dict[str, tuple[datetime, str]] = {}
    for job in jobs:
        loader = by_id.get(job.workflow_id or "")
        for feed in job.tables:
            if loader is not None:
                loaded[feed.table_name].add(loader.name)
                tables_of[loader.name].add(feed.table_name)
            else:
                loaded.setdefault(feed.table_name, set())
            if feed.state.kind is StateKind.SUCCEEDED and feed.ended_at is not None:
                seen = last_load.get(feed.table_name)
                if seen is None or feed.ended_at > seen[0]:
                    last_load[feed.table_name] = (feed.ended_at, job.id)

    workflows = []
    for (type_, name), group in sorted(grouped.items()):
        group.sort(key=lambda r: (r.created_at or now, r.id))
        successes = [r for r in group if r.state.kind is StateKind.SUCCEEDED and r.ended_at]
        finished = [r for r in group if _finished(r)]
        workflows.append(CatalogWorkflow(
            name=name, type=type_, runs=len(group), successes=len(successes),
            last_run=CatalogRun.of((finished or group)[-1]),
            last_success=CatalogRun.of(successes[-1]) if successes else None,
            cadence=learn_cadence(r.ended_at for r in successes if r.ended_at is not None),
            tables=sorted(tables_of.get(name, ())),
        ))
    tables = [
        CatalogTable(name=table, loaded_by=sorted(names),
                     last_loaded_at=last_load[table][0] if table in last_load else None,
                     last_job_id=last_load[table][1] if table in last_load else None)
        for table, names in sorted(loaded.items())
    ]
    return Catalog(tenant=tenant, refreshed_at=now, days=days, workflows=workflows,
                   tables=tables)


def merge_known(catalog: Catalog, previous: Catalog | None) -> Catalog:
    """Keep workflows and tables of the previous catalog that this window did not see.

    A weekly workflow outside a short ``--days`` window must not vanish from the graph (its
    asset's history would be orphaned); it stays, with what was known of it.
    """
    if previous is None:
        return catalog
    names = {(w.type, w.name) for w in catalog.workflows}
    tables = {t.name for t in catalog.tables}
    workflows = sorted([*catalog.workflows,
                        *(w for w in previous.workflows if (w.type, w.name) not in names)],
                       key=lambda w: (w.type, w.name))
    kept_tables = sorted([*catalog.tables, *(t for t in previous.tables if t.name not in tables)],
                         key=lambda t: t.name)
    return catalog.model_copy(update={"workflows": workflows, "tables": kept_tables})

