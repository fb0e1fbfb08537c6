"""Profile indexes as assets over the simulator: observed updated_at, freshness, canary checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetKey,
    AssetMaterialization,
    AssetObservation,
    DagsterInstance,
    Definitions,
    build_sensor_context,
)

from amperity_ops.defs.indexes import build_index_defs
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.settings import IndexesConfig
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops_tests.services.helpers import TENANT

LOYALTY = AssetKey(["amperity", TENANT, "indexes", "loyalty_members"])
CANARIES = [
    {"name": "test customer", "index": "loyalty_members", "filter": {"loyalty_id": "123456789-0"}},
    {"name": "nobody", "index": "idx-xyz789", "filter": {"first_name": "Zebulon-Nobody"}},
]


def _tick(runtime: OpsRuntime, config: IndexesConfig, cursor: str | None = None) -> Any:
    defs = build_index_defs(TENANT, {"idx-xyz789": "loyalty_members"}, config)
    [sensor] = list(defs.sensors or [])
    with build_sensor_context(instance=DagsterInstance.ephemeral(), cursor=cursor,
                              resources={"amperity_ops": runtime}) as context:
        return sensor(context)


def _of(result: Any, kind: type) -> list[Any]:
    return [e for e in result.asset_events if isinstance(e, kind)]


@pytest.fixture
def runtime(runtime: OpsRuntime, clock: ManualClock) -> OpsRuntime:
    """The services' runtime with a monotonic clock that moves 25 ms per read (latency)."""
    ticks = iter(range(10_000))
    runtime.monotonic = lambda: next(ticks) * 0.025
    return runtime


def test_index_asset_spec_has_freshness_and_checks(runtime: OpsRuntime) -> None:
    """Each index is an amperity asset with a time-window freshness and one check per canary."""
    config = IndexesConfig.model_validate({"fresh_within": "1d", "canaries": CANARIES})
    defs = Definitions.merge(build_index_defs(TENANT, {"idx-xyz789": "loyalty_members"}, config),
                             Definitions(resources={"amperity_ops": runtime}))
    [spec] = defs.resolve_all_asset_specs()
    assert spec.key == LOYALTY
    assert spec.kinds == {"amperity"}
    assert spec.freshness_policy is not None
    assert spec.freshness_policy.fail_window.to_timedelta() == timedelta(days=1)
    checks = {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    assert checks == {"index_fresh", "canary_test_customer", "canary_nobody"}


def test_sensor_observes_updated_at_and_runs_canaries_in_the_tenant_budget(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """One GET /indexes and one lookup per canary; found/not found with latency; once per build."""
    config = IndexesConfig.model_validate({"fresh_within": "3d", "canaries": CANARIES})
    first = _tick(runtime, config)
    [observed] = _of(first, AssetObservation)
    assert observed.asset_key == LOYALTY
    index = next(i for i in quiet_sim.tenant(TENANT).indexes if i["id"] == "idx-xyz789")
    assert observed.metadata["updated_at"].value > 0
    assert index["updated_at"]  # the simulator's own value, reported as a timestamp
    assert [m.asset_key for m in _of(first, AssetMaterialization)] == [LOYALTY]
    checks = {e.check_name: e for e in _of(first, AssetCheckEvaluation)}
    assert checks["index_fresh"].passed
    assert checks["canary_test_customer"].passed
    assert checks["canary_test_customer"].metadata["latency_ms"].value == 25.0
    assert not checks["canary_nobody"].passed
    assert checks["canary_nobody"].metadata["found"].value is False
    log = quiet_sim.request_log(TENANT)
    assert log.count("/api/indexes", method="GET") == 1
    assert log.count("/api/indexes/idx-xyz789/profiles", method="GET") == 2

    second = _tick(runtime, config, cursor=first.cursor)
    assert _of(second, AssetObservation) == []
    assert _of(second, AssetMaterialization) == []
    assert {e.check_name for e in _of(second, AssetCheckEvaluation)} == {
        "canary_test_customer", "canary_nobody"}


def test_a_stale_index_is_observed_but_not_materialized_and_its_check_fails(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock
) -> None:
    """An index older than fresh_within: an observation, no materialization, index_fresh red."""
    clock.advance(timedelta(days=5))
    result = _tick(runtime, IndexesConfig.model_validate({"fresh_within": "1d"}))
    assert [o.asset_key for o in _of(result, AssetObservation)] == [LOYALTY]
    assert _of(result, AssetMaterialization) == []
    [fresh] = _of(result, AssetCheckEvaluation)
    assert not fresh.passed
    assert "stale after 1d" in (fresh.description or "")


def test_unknown_canary_index_and_unknown_keys_are_refused() -> None:
    """Typos in the indexes section stop at load, naming the field."""
    with pytest.raises(ValueError, match="filtr"):
        IndexesConfig.model_validate(
            {"canaries": [{"name": "a", "index": "x", "filtr": {"a": "b"}}]})
    with pytest.raises(ValueError, match="unique"):
        IndexesConfig.model_validate({"canaries": [CANARIES[0], CANARIES[0]]})
