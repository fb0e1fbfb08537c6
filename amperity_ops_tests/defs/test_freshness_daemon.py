"""A learned freshness through Dagster's own freshness daemon, not just as numbers.

Open-source Dagster evaluates a ``FreshnessPolicy`` in its freshness daemon
(``dagster._daemon.freshness.FreshnessDaemon``): per asset it asks the policy type's evaluator
(``TimeWindowFreshnessPolicyEvaluator``: seconds since the asset's latest materialization against
the warn and fail windows) and records a ``FreshnessStateChange`` on the instance, which is what
the catalog's Healthy / Warning / Degraded badge reads. The daemon and the evaluator read the wall
clock through ``dagster._time``, and the runless materialization is stamped through it too, so
Dagster's own ``freeze_time`` test helper places both in time.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from dagster import AssetKey, AssetMaterialization, DagsterInstance
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetNode
from dagster._core.definitions.freshness import FreshnessState, TimeWindowFreshnessPolicy
from dagster._core.loader import LoadingContextForTest
from dagster._core.test_utils import freeze_time
from dagster._daemon.freshness import FreshnessDaemon

from amperity_ops import build_amperity_defs
from amperity_ops.services.catalog import refresh_catalog
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops_tests.defs.test_asset_graph import COURIER, COURIER_KEY, _tick
from amperity_ops_tests.services.helpers import TENANT


def _daemon_state(instance: DagsterInstance, daemon: FreshnessDaemon, node: BaseAssetNode,
                  key: AssetKey) -> FreshnessState:
    """One pass of the freshness daemon over one asset; the state it recorded on the instance."""
    # A fresh loading context per pass, as each daemon iteration makes one (its loaders cache).
    asyncio.run(daemon._evaluate_asset(LoadingContextForTest(instance), node))
    return instance.get_freshness_state_records([key])[key].freshness_state


def test_a_daily_workflow_that_misses_its_day_goes_warn_then_fail_in_dagsters_daemon(
    runtime: OpsRuntime, quiet_sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    """Daily successes, latest materialized at T: PASS at T+20h, WARN at T+31h, FAIL at T+49h."""
    world = quiet_sim.tenant(TENANT)
    for days_ago in (3, 2, 1):
        world.add_run(name=COURIER, state="succeeded",
                      started_ago=timedelta(days=days_ago, hours=1),
                      ended_ago=timedelta(days=days_ago), ingest_tables=())
    catalog_dir = tmp_path / "catalog"
    refresh_catalog(runtime, days=4, catalog_dir=catalog_dir)
    defs = build_amperity_defs(config=runtime.config, catalog_dir=str(catalog_dir))
    node = defs.resolve_asset_graph().get(COURIER_KEY)
    policy = node.freshness_policy_or_from_metadata
    assert isinstance(policy, TimeWindowFreshnessPolicy)
    assert policy.warn_window is not None
    assert (policy.warn_window.to_timedelta(), policy.fail_window.to_timedelta()) == (
        timedelta(hours=30), timedelta(hours=48))

    daemon = FreshnessDaemon()
    with DagsterInstance.ephemeral() as instance:
        t = clock.now()
        with freeze_time(t):
            assert _daemon_state(instance, daemon, node, COURIER_KEY) == FreshnessState.UNKNOWN
            events = _tick(defs, runtime, instance)
        assert [e.asset_key for e in events if isinstance(e, AssetMaterialization)] == [
            COURIER_KEY]
        record = instance.get_latest_materialization_event(COURIER_KEY)
        assert record is not None
        assert record.timestamp == t.timestamp()

        states = []
        for hours in (20, 31, 49):  # no new success: the daily workflow missed its day
            with freeze_time(t + timedelta(hours=hours)):
                states.append(_daemon_state(instance, daemon, node, COURIER_KEY))
        assert states == [FreshnessState.PASS, FreshnessState.WARN, FreshnessState.FAIL]
