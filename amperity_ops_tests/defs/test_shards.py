"""Shards in-process: each shard's sensor watches its own tenants, all share one Redis budget.

Two shards of a policy file with ten tenants, each tenant with one overdue run, evaluated the
way the daemon evaluates each code location's sensor (``build_sensor_context`` with the
``amperity_ops`` resource bound to the shard), over the simulator on a real socket with its
strict 10 requests-per-second limiter on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from dagster import SensorResult, build_sensor_context

from amperity_ops.defs.sensors import amperity_workflow_sla_sensor
from amperity_ops.defs.shards import (
    ShardedOpsResource,
    guard_definitions,
    polling_definitions,
    shard_from_env,
)
from amperity_ops.monitoring.shards import Shard, shard_of
from amperity_ops.settings import ConfigError
from amperity_ops.simulator import ManualClock, Simulator, TenantSpec

TOKEN_ENV = "SHARD_TEST_TOKEN"
TOKEN = "shard-test-token"
REDIS_URL = "redis://127.0.0.1:6379/0"
TENANTS = [f"brand-{i:02d}" for i in range(10)]
POLICY = """\
policies:
  - {{name: overdue, match: {{name: "Courier*"}}, max_runtime: 1h, action: stop}}
auto_stop: {{enabled: true, max_stops_per_hour: 5}}
alerts: [{{kind: log}}]
tenants:
{tenants}
"""


@pytest.fixture
def fleet(clock: ManualClock) -> Iterator[tuple[Simulator, str]]:
    """Ten simulated tenants (one overdue run each) on a socket, limiter on at 10 rps."""
    sim = Simulator(
        tenants=[TenantSpec(tenant_id=t, static_tokens=(TOKEN,), schedules=False, seed=i)
                 for i, t in enumerate(TENANTS)],
        clock=clock,
        rate_limit_rps=10.0,
    )
    for tenant in TENANTS:
        sim.tenant(tenant).add_run(name="Courier Group", started_ago=timedelta(hours=3))
    with sim.serve() as base_url:
        yield sim, base_url


@pytest.fixture
def policy_file(tmp_path: Path, fleet: tuple[Simulator, str],
                monkeypatch: pytest.MonkeyPatch) -> Path:
    """The one policy file every shard reads; the shared budget comes from the environment."""
    _sim, base_url = fleet
    lines = "\n".join(
        f"  - {{name: {t}, tenant_id: {t}, base_url: \"{base_url}\", "
        f"access_token: {{env: {TOKEN_ENV}}}}}" for t in TENANTS
    )
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.format(tenants=lines))
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv("AMPERITY_RATE_LIMIT_BACKEND", REDIS_URL)
    monkeypatch.setenv("AMPERITY_OPS_CLOCK", "simulator")  # SLA times on the simulator's clock
    return path


def _tick(resource: ShardedOpsResource) -> SensorResult:
    with build_sensor_context(resources={"amperity_ops": resource}) as context:
        result = amperity_workflow_sla_sensor(context)
    assert isinstance(result, SensorResult)
    return result


@pytest.mark.slow
@pytest.mark.redis
def test_two_shards_stop_disjoint_tenants_covering_all_within_one_shared_budget(
    fleet: tuple[Simulator, str], policy_file: Path, tmp_path: Path
) -> None:
    """Each shard requests stops for its own tenants only; together every tenant, no 429."""
    sim, _base_url = fleet
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    watched: dict[str, set[str]] = {}
    for shard in ("1/2", "2/2"):
        resource = ShardedOpsResource(config_path=str(policy_file), store_url=store_url,
                                       shard=shard)
        result = _tick(resource)
        watched[shard] = {r.tags["amperity-ops/tenant"] for r in result.run_requests or []}
        assert watched[shard] == {t for t in TENANTS if shard_of(t, 2) == int(shard[0])}
    assert watched["1/2"].isdisjoint(watched["2/2"])
    assert watched["1/2"] | watched["2/2"] == set(TENANTS)
    assert all(sim.request_log(t).count("/api/", prefix=True, status=429) == 0 for t in TENANTS)


@pytest.mark.slow
@pytest.mark.redis
def test_a_shards_clients_spend_the_tenants_budget_in_redis(
    fleet: tuple[Simulator, str], policy_file: Path, tmp_path: Path
) -> None:
    """The runtime a shard builds sends through the tenant's Redis budget, shared by all."""
    _sim, base_url = fleet
    db = redis.Redis.from_url(REDIS_URL)
    resource = ShardedOpsResource(config_path=str(policy_file),
                                   store_url=f"sqlite:///{tmp_path / 's.sqlite'}", shard="2/2")
    with resource.yield_for_execution(None) as runtime:  # type: ignore[arg-type]
        tenant = runtime.tenants[0]
        key = f"amperity-ops:rate:{tenant.tenant_id}@{base_url.split('/')[2]}"
        db.delete(key)
        with runtime.client(tenant.name) as client:
            list(client.list_workflow_runs(limit=5, max_items=5))
        assert db.llen(key) >= 1
    db.delete(key)


def test_a_shards_location_holds_the_guard_and_the_assets_live_apart() -> None:
    """A shard: both sensors and the stop job, no asset (asset keys are global in Dagster)."""
    guard = guard_definitions(Shard(3, 4))
    repo = guard.get_repository_def()
    assert sorted(s.name for s in repo.sensor_defs) == [
        "amperity_ingest_sensor", "amperity_workflow_sla_sensor"]
    assert [j.name for j in repo.get_all_jobs()] == ["stop_amperity_workflow_run",
                                                     "stop_amperity_workflow_runs"]
    assert not list(repo.assets_defs_by_key)
    resource = (guard.resources or {})["amperity_ops"]
    assert isinstance(resource, ShardedOpsResource)
    assert resource.shard == "3/4"
    polling = polling_definitions().get_repository_def()
    assert not polling.sensor_defs
    assert {k.to_user_string() for k in polling.assets_defs_by_key} >= {
        "amperity/workflow_runs", "amperity/ingest_jobs"}


def test_shard_from_env_validates_at_load() -> None:
    """The code location reads AMPERITY_OPS_SHARD once at load: k/n, unset, or a clear error."""
    assert shard_from_env({"AMPERITY_OPS_SHARD": "2/4"}) == Shard(2, 4)
    assert shard_from_env({}) is None
    with pytest.raises(ConfigError, match=r"^AMPERITY_OPS_SHARD='2/1': no shard 2 of 1; set"):
        shard_from_env({"AMPERITY_OPS_SHARD": "2/1"})


@pytest.mark.slow
def test_a_bad_shard_stops_the_code_location_with_one_line() -> None:
    """Loading amperity_ops.definitions with AMPERITY_OPS_SHARD=5/4 fails naming the fix."""
    env = {**os.environ, "AMPERITY_OPS_SHARD": "5/4"}
    done = subprocess.run([sys.executable, "-c", "import amperity_ops.definitions"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.endswith("AMPERITY_OPS_SHARD='5/4': no shard 5 of 4; set AMPERITY_OPS_SHARD to "
                         "k/n with 1 <= k <= n, e.g. 2/4 for the second of four shards")


def test_a_shard_with_no_tenants_ticks_quietly_and_names_the_cause(tmp_path: Path) -> None:
    """Few tenants over many shards: an empty shard's tick reads nothing; a look-up says why."""
    from amperity_ops.services.runtime import OpsRuntime
    from amperity_ops.services.sla_guard import run_sla_tick
    from amperity_ops.settings import UnknownTenantError

    policy = tmp_path / "policy.yaml"
    policy.write_text("tenants:\n  - {tenant_id: a, access_token: t, shard: 1}\n"
                      "  - {tenant_id: b, access_token: t, shard: 1}\n")
    runtime = OpsRuntime.from_settings(config_path=str(policy), shard=Shard(2, 2),
                                       store_url=f"sqlite:///{tmp_path / 's.sqlite'}")
    try:
        assert list(runtime.tenants) == []
        result = run_sla_tick(runtime, now=runtime.clock(), budget_s=5, deliver=False)
        assert result.stop_requests == []
        assert result.requests == 0
        with pytest.raises(UnknownTenantError, match="this shard watches none"):
            runtime.tenant(None)
    finally:
        runtime.close()
