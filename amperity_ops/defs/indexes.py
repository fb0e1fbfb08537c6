"""Profile indexes as assets: observed ``updated_at``, freshness, and canary lookups as checks.

``build_index_defs(tenant, {"idx-xyz789": "loyalty_members"}, config.indexes)`` returns:

* one external asset per index (``amperity/<tenant>/indexes/<slug>``, kind ``amperity``) with a
  ``FreshnessPolicy.time_window(indexes.fresh_within)``;
* checks per index: ``index_fresh`` (updated within ``fresh_within``) and one
  ``canary_<name>`` per configured canary (a lookup expected to find >= 1 profile, with its
  latency). They can be executed from the UI, and the sensor reports them every interval;
* the sensor ``amperity_index_sensor`` (suffixed per tenant or component): one ``GET /indexes``
  plus one lookup per canary, every ``indexes.check_interval``, through the tenant's client
  and budget. It reports a new ``updated_at`` as an ``AssetObservation`` and, when that build
  is fresh, as a runless ``AssetMaterialization`` too (Dagster's freshness counts
  materializations only); ``index_fresh`` whenever it changes; every canary result.

The indexes are known at load from the Component's state (``GET /indexes`` at refresh) and
from the canaries' ``index``: loading never calls the API.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at decoration time.

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetMaterialization,
    AssetObservation,
    AssetSpec,
    Definitions,
    FreshnessPolicy,
    MetadataValue,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    multi_asset_check,
    sensor,
)

from amperity_ops.core.durations import format_duration
from amperity_ops.defs.instance_names import sensor_resource
from amperity_ops.defs.resources import RESOURCE_KEY
from amperity_ops.defs.translator import AmperityTranslator
from amperity_ops.monitoring.catalog import slugify
from amperity_ops.monitoring.indexes import IndexReport, plan_index_reports
from amperity_ops.services.indexes import CanaryResult, read_indexes, run_canary
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.tenants import describe_tenant_error
from amperity_ops.settings import IndexesConfig

__all__ = [
    "FRESH_CHECK",
    "INDEX_SENSOR_NAME",
    "build_index_defs",
    "canary_check_name",
    "index_names_to_watch",
]

INDEX_SENSOR_NAME = "amperity_index_sensor"
FRESH_CHECK = "index_fresh"


def canary_check_name(canary_name: str) -> str:
    """``canary_<slug>``: the asset check a canary lookup reports to."""
    return f"canary_{slugify(canary_name)}"


def index_names_to_watch(known: Mapping[str, str], config: IndexesConfig) -> dict[str, str]:
    """Index id-or-name -> index name: the indexes the state knows, plus the canaries' ones.

    Args:
        known: Index id -> name, from the Component's state (may be empty).
        config: ``indexes`` of the policy.
    """
    names = dict(known)
    for canary in config.canaries:
        if canary.index not in names and canary.index not in names.values():
            names[canary.index] = canary.index
    return names


def _suffixed(name: str, suffix: str) -> str:
    return name + re.sub(r"[^A-Za-z0-9_]", "_", suffix)


def build_index_defs(
    tenant: str,
    indexes: Mapping[str, str],
    config: IndexesConfig,
    *,
    key_fn: Callable[[str, str], AssetKey] | None = None,
    group_name: str | None = None,
    resource_key: str = RESOURCE_KEY,
    name_suffix: str = "",
) -> Definitions:
    """Assets, checks and the sensor for one tenant's profile indexes.

    Args:
        tenant: The tenant's name.
        indexes: Index id (or name) -> index name (see :func:`index_names_to_watch`).
        config: ``indexes`` of the policy (freshness window, interval, canaries).
        key_fn: ``(tenant, index name) -> AssetKey``; default the translator's
            ``amperity/<tenant>/indexes/<slug>``.
        group_name: The assets' group; default the translator's (``amperity_<tenant>``).
        resource_key: The key of the ``OpsRuntime`` resource.
        name_suffix: Appended to the sensor and check names (several tenants or components).

    Returns:
        The definitions (empty when ``indexes.enabled`` is false or no index is known).
    """
    if not config.enabled:
        return Definitions()
    watched = index_names_to_watch(indexes, config)
    if not watched:
        return Definitions()
    make_key = key_fn or AmperityTranslator().get_index_key
    key_by_ref = {ref: make_key(tenant, name) for ref, name in watched.items()}
    key_by_name = {watched[ref]: key for ref, key in key_by_ref.items()}
    fresh_within = config.fresh_within
    specs = [
        AssetSpec(
            key=key,
            kinds={"amperity"},
            group_name=group_name or AmperityTranslator().get_group_name(tenant),
            freshness_policy=FreshnessPolicy.time_window(fail_window=fresh_within),
            description=f"Amperity profile index {watched[ref]!r} (tenant {tenant}). Its "
            f"`updated_at` is observed every {format_duration(config.check_interval)}; stale "
            f"when not updated for {format_duration(fresh_within)}.",
            metadata={"amperity/index": ref},
        )
        for ref, key in key_by_ref.items()
    ]
    canary_keys = {
        canary.name: AssetCheckKey(_canary_key(canary.index, watched, key_by_ref),
                                   canary_check_name(canary.name))
        for canary in config.canaries
    }
    check_specs = [
        *(AssetCheckSpec(FRESH_CHECK, asset=key, description=f"Updated within "
                         f"{format_duration(fresh_within)}") for key in key_by_ref.values()),
        *(AssetCheckSpec(check.name, asset=check.asset_key,
                         description=f"Canary lookup {name!r} finds at least one profile")
          for name, check in canary_keys.items()),
    ]
    job = _IndexWork(tenant, config, key_by_ref, key_by_name, canary_keys)

    @multi_asset_check(
        name=_suffixed(f"amperity_index_checks_{slugify(tenant)}", name_suffix),
        specs=check_specs,
        can_subset=True,
        required_resource_keys={resource_key},
    )
    def _index_checks(context: AssetCheckExecutionContext) -> Iterable[AssetCheckResult]:
        runtime: OpsRuntime = getattr(context.resources, resource_key)
        selected = context.selected_asset_check_keys
        for evaluation in job.evaluate(runtime, selected=selected):
            yield AssetCheckResult(
                asset_key=evaluation.asset_key, check_name=evaluation.check_name,
                passed=evaluation.passed, metadata=evaluation.metadata,
                severity=evaluation.severity,
            )

    @sensor(
        name=_suffixed(INDEX_SENSOR_NAME, name_suffix),
        minimum_interval_seconds=int(config.check_interval.total_seconds()),
        required_resource_keys={resource_key},
        description=f"Profile indexes of {tenant}: updated_at observed, freshness and canary "
        "checks (one GET /indexes and one lookup per canary per interval).",
    )
    def _index_sensor(
        context: SensorEvaluationContext, **resources: Any
    ) -> SensorResult | SkipReason:
        runtime: OpsRuntime = sensor_resource(context, resources, resource_key)
        seen = _read_cursor(context.cursor)
        try:
            events, seen = job.sense(runtime, seen)
        except Exception as err:  # one line, scrubbed; the next tick tries again
            return SkipReason(f"{tenant}: {describe_tenant_error(runtime.tenant(tenant), err)}")
        return SensorResult(asset_events=events, cursor=json.dumps(seen))

    return Definitions(assets=specs, asset_checks=[_index_checks], sensors=[_index_sensor])


def _canary_key(
    ref: str, watched: Mapping[str, str], key_by_ref: Mapping[str, AssetKey]
) -> AssetKey:
    if ref in key_by_ref:
        return key_by_ref[ref]
    return next(key_by_ref[r] for r, name in watched.items() if name == ref)


def _read_cursor(cursor: str | None) -> dict[str, tuple[str | None, bool]]:
    """Index id -> (updated_at reported, fresh reported); an unreadable cursor starts fresh."""
    try:
        raw = json.loads(cursor or "{}")
        return {k: (v[0], bool(v[1])) for k, v in raw.items()}
    except (ValueError, TypeError, IndexError, AttributeError):
        return {}


class _IndexWork:
    """The reads and the events, shared by the sensor and the executable checks."""

    def __init__(self, tenant: str, config: IndexesConfig, key_by_ref: Mapping[str, AssetKey],
                 key_by_name: Mapping[str, AssetKey], canary_keys: Mapping[str, AssetCheckKey]):
        self.tenant = tenant
        self.config = config
        self.key_by_ref = key_by_ref
        self.key_by_name = key_by_name
        self.canary_keys = canary_keys

    def _key(self, index_id: str, name: str) -> AssetKey | None:
        return self.key_by_ref.get(index_id) or self.key_by_name.get(name)

    def sense(
        self, runtime: OpsRuntime, seen: dict[str, tuple[str | None, bool]]
    ) -> tuple[list[Any], dict[str, tuple[str | None, bool]]]:
        """One tick: read, plan, and the events to report; returns the new cursor too."""
        tenant = runtime.tenant(self.tenant)
        now = runtime.clock()
        events: list[Any] = []
        with runtime.client(tenant.name) as client:
            indexes = read_indexes(client)
            reports = plan_index_reports(indexes, seen=seen, now=now,
                                         fresh_within=self.config.fresh_within)
            for report in reports:
                key = self._key(report.index.id, report.index.name)
                if key is None:
                    continue  # an index created since the last state refresh
                events += self._index_events(key, report)
                seen[report.index.id] = (
                    report.index.updated_at.isoformat() if report.index.updated_at else None,
                    report.fresh,
                )
            for canary in self.config.canaries:
                result = run_canary(client, tenant, canary, indexes, monotonic=runtime.monotonic)
                events.append(self._canary_evaluation(result))
        return events, seen

    def evaluate(
        self, runtime: OpsRuntime, *, selected: Sequence[AssetCheckKey] | set[AssetCheckKey]
    ) -> list[AssetCheckEvaluation]:
        """The selected checks, now (a check execution from the UI)."""
        tenant = runtime.tenant(self.tenant)
        now = runtime.clock()
        out: list[AssetCheckEvaluation] = []
        with runtime.client(tenant.name) as client:
            indexes = read_indexes(client)
            for report in plan_index_reports(indexes, seen={}, now=now,
                                             fresh_within=self.config.fresh_within):
                key = self._key(report.index.id, report.index.name)
                if key is not None and AssetCheckKey(key, FRESH_CHECK) in selected:
                    out.append(self._fresh_evaluation(key, report))
            for canary in self.config.canaries:
                if self.canary_keys[canary.name] in selected:
                    result = run_canary(client, tenant, canary, indexes,
                                        monotonic=runtime.monotonic)
                    out.append(self._canary_evaluation(result))
        return out

    def _index_events(self, key: AssetKey, report: IndexReport) -> list[Any]:
        index = report.index
        metadata: dict[str, Any] = {"index_id": MetadataValue.text(index.id)}
        if index.updated_at is not None:
            metadata["updated_at"] = MetadataValue.timestamp(index.updated_at)
        if report.age is not None:
            metadata["age_hours"] = MetadataValue.float(round(report.age.total_seconds() / 3600, 2))
        events: list[Any] = []
        if report.observe:
            events.append(AssetObservation(asset_key=key, metadata=metadata))
        if report.materialize:
            events.append(AssetMaterialization(asset_key=key, metadata=metadata,
                                               description="a new build of the index"))
        if report.fresh_changed:
            events.append(self._fresh_evaluation(key, report))
        return events

    def _fresh_evaluation(self, key: AssetKey, report: IndexReport) -> AssetCheckEvaluation:
        window = format_duration(self.config.fresh_within)
        age = ("never updated" if report.age is None
               else f"updated {format_duration(report.age)} ago")
        return AssetCheckEvaluation(
            asset_key=key, check_name=FRESH_CHECK, passed=report.fresh,
            severity=AssetCheckSeverity.WARN,
            description=f"{report.index.name}: {age} (stale after {window})",
            metadata={"age_hours": MetadataValue.float(
                -1.0 if report.age is None else round(report.age.total_seconds() / 3600, 2))},
        )

    def _canary_evaluation(self, result: CanaryResult) -> AssetCheckEvaluation:
        check = self.canary_keys[result.canary.name]
        filters = ", ".join(f"{k}={v}" for k, v in result.canary.filter.items())
        metadata: dict[str, Any] = {
            "found": MetadataValue.bool(result.found),
            "filter": MetadataValue.text(filters),
        }
        if result.latency_s is not None:
            metadata["latency_ms"] = MetadataValue.float(round(result.latency_s * 1000, 1))
        if result.problem:
            metadata["problem"] = MetadataValue.text(result.problem)
        verdict = "found a profile" if result.found else (result.problem or "found no profile")
        return AssetCheckEvaluation(
            asset_key=check.asset_key, check_name=check.name, passed=result.found,
            severity=AssetCheckSeverity.ERROR, metadata=metadata,
            description=f"canary {result.canary.name!r} ({filters}): {verdict}",
        )
