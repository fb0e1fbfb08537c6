"""CLI fixtures: the simulator over a real socket, with the environment a user would set.

The shared ``sim`` tenant runs on a :class:`ManualClock`; here it starts at the real current
time, because the CLI measures runtimes against the system clock, and its stops take effect at
once (``stop_delay=0``) so ``runs stop`` finishes without waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from amperity_ops.cli import cli
from amperity_ops.simulator import ManualClock, Simulator, TenantSpec
from amperity_ops_tests.conftest import TENANT, TOKEN

POLICY = """\
policies:
  - name: couriers
    match: {type: "courier.group/run"}
    warn_after: 10m
    max_runtime: 20m
    action: stop
auto_stop: {enabled: true}
alerts:
  - {kind: log}
"""


@pytest.fixture
def clock() -> ManualClock:
    """Simulated time starting now (the CLI reads the system clock), moved only by the test."""
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def sim(clock: ManualClock) -> Simulator:
    """A quiet tenant "acme" whose stops complete immediately; rate limit off."""
    spec = TenantSpec(
        tenant_id=TENANT,
        static_tokens=(TOKEN,),
        seed=7,
        schedules=False,
        stop_delay=timedelta(0),
    )
    return Simulator([spec], clock=clock, rate_limit_rps=None)


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    """A valid policy file: courier groups warn at 10m, breach (and stop) at 20m."""
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A fresh SQLite history store for the test."""
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


@pytest.fixture
def cli_env(
    sim_server: str,
    policy_file: Path,
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, str]]:
    """The variables a user exports to point amperity-ops at the simulated tenant."""
    env = {
        "AMPERITY_TENANT_ID": TENANT,
        "AMPERITY_BASE_URL": sim_server,
        "AMPERITY_ACCESS_TOKEN": TOKEN,
        "AMPERITY_OPS_CONFIG": str(policy_file),
        "AMPERITY_OPS_STORE_URL": store_url,
        "DAGSTER_HOME": str(tmp_path),
        "COLUMNS": "200",
    }
    for name in ("AMPERITY_CLIENT_ID", "AMPERITY_CLIENT_SECRET", "AMPERITY_OPS_DEBUG",
                 "AMPERITY_APP_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


RunCli = Callable[..., Result]


@pytest.fixture
def run_cli() -> RunCli:
    """Invokes ``amperity-ops`` in-process; click's Result keeps stdout and stderr apart."""

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke
