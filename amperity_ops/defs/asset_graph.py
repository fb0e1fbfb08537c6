"""The Amperity asset graph: one external asset per workflow and per ingest table, with checks.

Built at load from the catalog files (no API call) and the policy file. The same object maps
the planned events of ``services/asset_events.py`` to Dagster events with the translator's keys,
so the sensor and the specs can never disagree on a key.
"""

# No `from __future__ import annotations`: Dagster reads the check's context annotation.

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetMaterialization,
    AssetSpec,
    MetadataValue,
    multi_asset_check,
)

from amperity_ops.client import StateKind
from amperity_ops.core import wording
from amperity_ops.core.clock import clock_mark
from amperity_ops.core.durations import format_duration
from amperity_ops.defs.translator import (
    AmperityTableProps,
    AmperityTranslator,
    AmperityWorkflowProps,
)
from amperity_ops.monitoring.asset_events import AssetEventPlan, RunOutcome, TableLoad
from amperity_ops.monitoring.catalog import Catalog
from amperity_ops.monitoring.freshness import freshness_rule
from amperity_ops.monitoring.sla import SlaEvaluation, SlaLevel, evaluate_sla, resolve_sla
from amperity_ops.services.asset_events import TenantAssets
from amperity_ops.services.catalog import REFRESH_HINT
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.settings import OpsConfig, Policy, TenantConfig

__all__ = [
    "LAST_RUN_CHECK",
    "RESOURCE_KEY",
    "WITHIN_SLA_CHECK",
    "AmperityAssetGraph",
    "build_asset_graph",
    "build_checks",
]

LAST_RUN_CHECK = "last_run_succeeded"
WITHIN_SLA_CHECK = "within_sla"
RESOURCE_KEY = "amperity_ops"


def sla_words(name: str, type_: str, policies: Sequence[Policy]) -> str:
    """The SLA policy of a workflow, in words, for its description."""
    policy = next((p for p in policies if p.match.matches(name, type_)), None)
    if policy is None:
        return ("no explicit policy: Amperity's own warn_after (when the workflow has one) "
                "only warns")
    parts = []
    if policy.warn_after is not None:
        parts.append(f"warn after {format_duration(policy.warn_after)}")
    if policy.max_runtime is not None:
        parts.append(f"max {format_duration(policy.max_runtime)}")
    parts.append("stopped past max" if policy.action == "stop" else "alert only")
    return f"policy `{policy.name}`: {', '.join(parts)}"


@dataclass
class AmperityAssetGraph:
    """The specs, checks and key maps of every tenant's Amperity assets."""

    specs: list[AssetSpec] = field(default_factory=list)
    check_specs: list[AssetCheckSpec] = field(default_factory=list)
    workflow_keys: dict[tuple[str, str], AssetKey] = field(default_factory=dict)
    table_keys: dict[tuple[str, str], AssetKey] = field(default_factory=dict)
    links: dict[str, TenantConfig] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    """Tenants without a catalog yet."""

    def tenant_assets(self) -> dict[str, TenantAssets]:
        """Tenant -> its workflow and table names (what the event tick plans for)."""
        tenants = {t for t, _ in self.workflow_keys} | {t for t, _ in self.table_keys}
        return {
            t: TenantAssets(
                t,
                frozenset(n for tt, n in self.workflow_keys if tt == t),
                frozenset(n for tt, n in self.table_keys if tt == t),
            )
            for t in sorted(tenants)
        }

    def status_line(self) -> str:
        """What the graph holds, and how to fill it if a catalog is missing."""
        text = (f"{len(self.workflow_keys)} Amperity workflow asset(s), "
                f"{len(self.table_keys)} table asset(s)")
        if self.missing:
            text += f"; no catalog yet for {', '.join(self.missing)}: {REFRESH_HINT}"
        return text

    # -- events ----------------------------------------------------------------------------

    def events(
        self, tenant: str, plan: AssetEventPlan, *, time_mark: str = ""
    ) -> list[AssetMaterialization | AssetCheckEvaluation]:
        """The Dagster events of one tenant's plan, oldest first (``time_mark``: appended to
        every time, `` (sim)`` on the demo's simulator clock; ``core.clock.clock_mark``)."""
        out: list[AssetMaterialization | AssetCheckEvaluation] = []
        conn = self.links.get(tenant)
        for outcome in plan.outcomes:
            key = self.workflow_keys[(tenant, outcome.name)]
            link = conn.run_link(outcome.run.id) if conn else None
            if outcome.materialize:
                out.append(AssetMaterialization(
                    asset_key=key,
                    description=f"Amperity run {outcome.run.id} succeeded",
                    metadata=run_metadata(outcome.evaluation, link, time_mark=time_mark),
                ))
            out.append(_evaluation(key, LAST_RUN_CHECK,
                                   *last_run_verdict(outcome, link, time_mark=time_mark)))
            out.append(_evaluation(key, WITHIN_SLA_CHECK,
                                   *sla_verdict(outcome.evaluation, link, ended=True,
                                                time_mark=time_mark)))
        for check in plan.sla_checks:
            key = self.workflow_keys[(tenant, check.name)]
            link = conn.run_link(check.run.id) if conn else None
            out.append(_evaluation(key, WITHIN_SLA_CHECK,
                                   *sla_verdict(check.evaluation, link, ended=False,
                                                time_mark=time_mark)))
        for load in plan.loads:
            key = self.table_keys[(tenant, load.table)]
            out.append(AssetMaterialization(
                asset_key=key,
                description=f"ingest job {load.job.id} loaded {load.table}",
                metadata=load_metadata(load, conn, time_mark=time_mark),
            ))
        return out


Verdict = tuple[bool, AssetCheckSeverity, str, dict[str, Any]]


def _evaluation(
    key: AssetKey, name: str, passed: bool, severity: AssetCheckSeverity, text: str,
    metadata: Mapping[str, Any],
) -> AssetCheckEvaluation:
    return AssetCheckEvaluation(asset_key=key, check_name=name, passed=passed,
                                severity=severity, description=text, metadata=dict(metadata))


def _who(evaluation: SlaEvaluation) -> str:
    run = evaluation.run
    return run.principal_name or run.principal_email or run.principal_id or "unknown"


def _sla_text(evaluation: SlaEvaluation) -> str:
    rule = evaluation.rule
    return wording.runtime_against(
        evaluation.runtime, evaluation.level.value,
        warn_after=rule.warn_after if rule else None,
        max_runtime=rule.max_runtime if rule else None,
        source=rule.label if rule else None,
    )


def _at(moment: datetime | None, otherwise: str, time_mark: str) -> str:
    """An ISO time with the clock's mark (`` (sim)`` in the demo), else ``otherwise``."""
    return f"{moment.isoformat()}{time_mark}" if moment else otherwise


def run_metadata(evaluation: SlaEvaluation, link: str | None, *,
                 time_mark: str = "") -> dict[str, Any]:
    """A run's metadata: id, start and end, runtime against its SLA, who launched it, link.

    ``time_mark`` (``core.clock.clock_mark``) follows each time: Amperity's times are the
    simulator's in the demo.
    """
    run = evaluation.run
    meta: dict[str, Any] = {
        "amperity_run_id": run.id,
        "state": run.state.raw,
        "started_at": _at(run.created_at, "unknown", time_mark),
        "ended_at": _at(run.ended_at, "in flight", time_mark),
        "runtime_minutes": MetadataValue.float(round(evaluation.runtime.total_seconds() / 60, 2)),
        "runtime_against_sla": _sla_text(evaluation),
        "launched_by": _who(evaluation),
    }
    if link:
        meta["amperity_link"] = MetadataValue.url(link)
    return meta


def last_run_verdict(outcome: RunOutcome, link: str | None, *,
                     time_mark: str = "") -> Verdict:
    """``last_run_succeeded``: passes on success; a failure says the error and who caused it."""
    run = outcome.run
    meta = run_metadata(outcome.evaluation, link, time_mark=time_mark)
    # Not ``outcome.materialize``: a success its Dagster run materialized is not
    # re-materialized here, yet its check passes.
    if run.state.kind is StateKind.SUCCEEDED:
        return True, AssetCheckSeverity.ERROR, f"run {run.id} succeeded", meta
    error = run.error
    attribution = (error.attribution if error and error.attribution else "unattributed")
    meta["attribution"] = attribution
    if error is not None:
        meta["error_type"] = error.type
        meta["error"] = error.message
    reason = f": {error.message} ({attribution})" if error is not None else f" ({attribution})"
    severity = (AssetCheckSeverity.WARN if run.state.raw.lower() == "skipped"
                else AssetCheckSeverity.ERROR)
    return False, severity, f"run {run.id} ended {run.state.raw}{reason}", meta


def sla_verdict(evaluation: SlaEvaluation, link: str | None, *, ended: bool,
                time_mark: str = "") -> Verdict:
    """``within_sla``: fails (ERROR) past the max runtime, fails (WARN) past the warning line."""
    run = evaluation.run
    text = f"run {run.id} {'ran' if ended else 'running'}: {_sla_text(evaluation)}"
    meta = run_metadata(evaluation, link, time_mark=time_mark)
    meta["sla_level"] = evaluation.level.value
    if evaluation.level is SlaLevel.BREACHED:
        return False, AssetCheckSeverity.ERROR, text, meta
    if evaluation.level is SlaLevel.WARNING:
        return False, AssetCheckSeverity.WARN, text, meta
    return True, AssetCheckSeverity.ERROR, text, meta


def load_metadata(load: TableLoad, conn: TenantConfig | None, *,
                  time_mark: str = "") -> dict[str, Any]:
    """A table load's metadata: the counts as numbers the UI plots, the job, the run
    (``time_mark``: see :func:`run_metadata`)."""
    feed = load.feed
    meta: dict[str, Any] = {
        "rows_read": MetadataValue.int(feed.read),
        "rows_inserted": MetadataValue.int(feed.inserted),
        "rows_updated": MetadataValue.int(feed.updated),
        "rows_rejected": MetadataValue.int(feed.rejected),
        "errors": MetadataValue.int(feed.errors),
        "ingest_job_id": load.job.id,
        "ended_at": _at(feed.ended_at, "unknown", time_mark),
    }
    if load.job.workflow_id:
        meta["amperity_run_id"] = load.job.workflow_id
        link = conn.run_link(load.job.workflow_id) if conn else None
        if link:
            meta["amperity_link"] = MetadataValue.url(link)
    return meta


_CHECK_TEXT = {
    LAST_RUN_CHECK: "The workflow's latest finished run in Amperity succeeded (red with the "
    "error and its attribution, customer or platform, when it failed, stopped or was "
    "cancelled). Reported by the amperity_asset_events sensor.",
    WITHIN_SLA_CHECK: "The workflow's run in flight (or its last run) is within its SLA: "
    "WARN past the warning line, ERROR past the max runtime. Reported by the "
    "amperity_asset_events sensor.",
}


def build_asset_graph(
    config: OpsConfig,
    catalogs: Mapping[str, Catalog | None],
    translator: AmperityTranslator,
    *,
    time_mark: str = "",
) -> AmperityAssetGraph:
    """Specs and check specs for every tenant with a catalog (``time_mark``: see the props).

    Raises:
        ValueError: If two Amperity assets would get the same key (names the fix).
    """
    graph = AmperityAssetGraph()
    owner_of: dict[AssetKey, str] = {}

    def claim(key: AssetKey, what: str) -> AssetKey:
        if key in owner_of:
            raise ValueError(
                f"Amperity asset key {key.to_user_string()} is taken twice ({owner_of[key]} and "
                f"{what}): give one of them its own key in translation.keys")
        owner_of[key] = what
        return key

    for tenant in config.tenants:
        catalog = catalogs.get(tenant.name)
        if catalog is None:
            graph.missing.append(tenant.name)
            continue
        graph.links[tenant.name] = tenant
        for wf in catalog.workflows:
            link = tenant.run_link(wf.last_run.id) if wf.last_run else None
            props = AmperityWorkflowProps(
                tenant=tenant.name, workflow=wf,
                sla=sla_words(wf.name, wf.type, config.policies),
                freshness=freshness_rule(wf, config.policies), link=link,
                catalog_refreshed_at=catalog.refreshed_at, time_mark=time_mark,
            )
            spec = translator.get_workflow_spec(props)
            claim(spec.key, f"{tenant.name} workflow {wf.name!r}")
            graph.specs.append(spec)
            graph.workflow_keys.setdefault((tenant.name, wf.name), spec.key)
            graph.check_specs += [
                AssetCheckSpec(name, asset=spec.key, description=text)
                for name, text in _CHECK_TEXT.items()
            ]
        for table in catalog.tables:
            loaded_by = tuple(graph.workflow_keys[(tenant.name, n)] for n in table.loaded_by
                              if (tenant.name, n) in graph.workflow_keys)
            table_spec = translator.get_table_spec(AmperityTableProps(
                tenant=tenant.name, table=table, loaded_by=loaded_by,
                catalog_refreshed_at=catalog.refreshed_at, time_mark=time_mark))
            claim(table_spec.key, f"{tenant.name} table {table.name!r}")
            graph.specs.append(table_spec)
            graph.table_keys[(tenant.name, table.name)] = table_spec.key
    return graph


def build_checks(
    graph: AmperityAssetGraph, *, name: str, resource_key: str = RESOURCE_KEY
) -> AssetChecksDefinition | None:
    """The workflow checks as one executable multi-check (None without workflows).

    The sensor reports them as they change; executing them by hand ("Execute checks")
    evaluates them the same way from the history store, with no API call.
    """
    if not graph.check_specs:
        return None
    by_key = {key: tk for tk, key in graph.workflow_keys.items()}

    @multi_asset_check(specs=graph.check_specs, name=name, can_subset=True,
                       required_resource_keys={resource_key},
                       description="Amperity workflow checks from the history store.")
    def amperity_workflow_checks(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
        runtime: OpsRuntime = getattr(context.resources, resource_key)
        now = runtime.clock()
        for check_key in context.selected_asset_check_keys:
            tenant, wf_name = by_key[check_key.asset_key]
            yield _check_from_store(runtime, graph, tenant, wf_name, check_key.name,
                                    check_key.asset_key, now)

    return amperity_workflow_checks


def _check_from_store(
    runtime: OpsRuntime, graph: AmperityAssetGraph, tenant: str, wf_name: str, check: str,
    key: AssetKey, now: Any,
) -> AssetCheckResult:
    conn = graph.links.get(tenant)
    active = [r for r in runtime.store.active_runs(tenant) if r.name == wf_name]
    latest = runtime.store.latest_finished_runs(tenant, [wf_name]).get(wf_name)

    def evaluation_of(run: Any) -> SlaEvaluation:
        return evaluate_sla(run, resolve_sla(run, runtime.config), now)

    verdict: Verdict
    mark = clock_mark(runtime.clock)
    if check == WITHIN_SLA_CHECK and active:
        run = active[-1]
        verdict = sla_verdict(evaluation_of(run), conn.run_link(run.id) if conn else None,
                              ended=False, time_mark=mark)
    elif latest is None:
        return AssetCheckResult(asset_key=key, check_name=check, passed=True,
                                description="no finished run in the history store yet")
    else:
        link = conn.run_link(latest.id) if conn else None
        outcome = RunOutcome(wf_name, latest, evaluation_of(latest),
                             materialize=latest.state.kind is StateKind.SUCCEEDED)
        verdict = (last_run_verdict(outcome, link, time_mark=mark) if check == LAST_RUN_CHECK
                   else sla_verdict(outcome.evaluation, link, ended=True, time_mark=mark))
    passed, severity, text, meta = verdict
    return AssetCheckResult(asset_key=key, check_name=check, passed=passed, severity=severity,
                            description=text, metadata=meta)

