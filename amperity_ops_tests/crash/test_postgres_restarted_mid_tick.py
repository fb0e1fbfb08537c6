"""A Postgres history store stopped in the middle of a tick and started again (its own cluster).

The test makes a cluster of its own (``initdb`` into a temporary directory, as the
``postgres`` user when run as root, on a free port, password authentication over TCP) and
uses it as the history store. The SLA sensor ticks in this process; while a tick waits for a
slow listing from the simulator, the cluster is stopped (``pg_ctl stop -m fast``): the tick
fails with one line naming the store (password masked). The cluster is started again and the
next tick recovers; every outbox and ledger row from before is still there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg2
import pytest
from dagster import DagsterInstance, build_sensor_context
from sqlalchemy import select

from amperity_ops.defs.sensors import amperity_workflow_sla_sensor
from amperity_ops.monitoring.stop_retry import attempt_run_key
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.simulator import Faults, ManualClock, Simulator
from amperity_ops.store import StoreError
from amperity_ops.store.schema import alert_outbox, stop_ledger
from amperity_ops_tests.crash.conftest import free_port
from amperity_ops_tests.services.helpers import TENANT, make_runtime

pytestmark = pytest.mark.slow

PASSWORD = "Pg-S3cret-pw"
SLOW_S = 3.0
"""How long the simulator holds each listing: the cluster is stopped meanwhile."""


def _initdb() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1]
    on_path = shutil.which("initdb")
    return Path(on_path) if on_path else None


@dataclass
class Cluster:
    """A Postgres cluster the test owns."""

    bin: Path
    data: Path
    port: int
    as_owner: list[str]

    def ctl(self, *args: str) -> None:
        subprocess.run([*self.as_owner, str(self.bin / "pg_ctl"), "-D", str(self.data),
                        "-w", "-t", "30", *args], check=True, capture_output=True, timeout=40)

    def start(self) -> None:
        self.ctl("-l", str(self.data.parent / "postgres.log"), "-o",
                 f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1", "start")

    def stop(self, mode: str = "fast") -> None:
        self.ctl("-m", mode, "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://ops:{PASSWORD}@127.0.0.1:{self.port}/store"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A fresh cluster on a free port with database ``store``; removed afterwards."""
    initdb = _initdb()
    if initdb is None:
        pytest.skip("initdb not found (/usr/lib/postgresql/*/bin or PATH): install postgresql")
    root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="amperity-pg-"))
    as_owner = ["runuser", "-u", "postgres", "--"] if root else []
    if root:  # initdb refuses to run as root: the cluster belongs to postgres
        shutil.chown(base, "postgres", "postgres")
    made = Cluster(bin=initdb.parent, data=base / "data", port=free_port(), as_owner=as_owner)
    pwfile = base / "pw"
    pwfile.write_text(PASSWORD)
    if root:
        shutil.chown(pwfile, "postgres", "postgres")
    try:
        subprocess.run([*as_owner, str(initdb), "-D", str(made.data), "-U", "ops",
                        f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=trust",
                        "--no-sync"], check=True, capture_output=True, timeout=60)
        made.start()
        conn = psycopg2.connect(host="127.0.0.1", port=made.port, user="ops", password=PASSWORD,
                                dbname="postgres")
        try:
            conn.autocommit = True  # CREATE DATABASE runs outside a transaction
            conn.cursor().execute("CREATE DATABASE store")
        finally:
            conn.close()
        yield made
    finally:
        # Never started, or already stopped: nothing to stop.
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            made.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


def _tick(runtime: OpsRuntime, instance: DagsterInstance) -> list[str]:
    context = build_sensor_context(instance=instance, resources={"amperity_ops": runtime})
    result = amperity_workflow_sla_sensor(context)
    return [str(r.run_key) for r in result.run_requests or []]


def _rows(runtime: OpsRuntime) -> tuple[set[tuple[object, ...]], set[tuple[object, ...]]]:
    """(outbox rows, ledger rows), by what identifies them."""
    o, s = alert_outbox.c, stop_ledger.c
    with runtime.store.engine.connect() as conn:
        outbox = {tuple(r) for r in conn.execute(select(o.id, o.dedup_key, o.level, o.sink))}
        ledger = {tuple(r) for r in conn.execute(select(s.id, s.run_key, s.workflow_id))}
    return outbox, ledger


def test_postgres_stopped_mid_tick_fails_that_tick_in_one_line_and_loses_nothing(
    sim: Simulator, clock: ManualClock, cluster: Cluster
) -> None:
    """Store down mid-tick: one line naming it (no password); back up: next tick catches up."""
    sim.set_rate_limit(None)
    runtime = make_runtime(sim, clock, cluster.url)
    world = sim.tenant(TENANT)
    first = world.add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    with DagsterInstance.ephemeral() as instance:
        assert _tick(runtime, instance) == [attempt_run_key(TENANT, first.id, 1)]
        outbox_before, ledger_before = _rows(runtime)
        assert outbox_before
        assert ledger_before

        second = world.add_run(name="Courier Group B", started_ago=timedelta(hours=3))
        # The listing is held; a counted 429 marks the moment the tick's first request arrived.
        sim.set_faults(TENANT, Faults(slow_seconds=SLOW_S, rate_limit_storm=1,
                                      only_paths=("/workflow/runs",)))
        clock.advance(timedelta(minutes=1))
        with ThreadPoolExecutor(1) as pool:
            tick = pool.submit(_tick, runtime, instance)
            deadline = time.monotonic() + 20
            while sim.faults(TENANT).rate_limit_storm > 0:
                assert not tick.done(), tick.result()
                assert time.monotonic() < deadline, "the tick never reached the simulator"
                time.sleep(0.02)
            cluster.stop()
            with pytest.raises(StoreError) as failed:
                tick.result(timeout=40)
        sim.set_faults(TENANT, Faults())
        message = str(failed.value)
        assert "\n" not in message
        assert message.startswith(f"the history store at {runtime.store.url} failed: ")
        assert f"127.0.0.1:{cluster.port}/store" in message
        assert PASSWORD not in message

        cluster.start()
        clock.advance(timedelta(minutes=1))
        assert _tick(runtime, instance) == [attempt_run_key(TENANT, second.id, 1)]
        outbox_after, ledger_after = _rows(runtime)
        counts = runtime.store.outbox_counts()
    runtime.store.close()
    assert outbox_before < outbox_after  # nothing lost; B's alerts added
    assert all(second.id in str(row[1]) for row in outbox_after - outbox_before)
    assert ledger_before < ledger_after
    assert {row[1] for row in ledger_after - ledger_before} == {
        attempt_run_key(TENANT, second.id, 1)}
    assert counts == {"delivered": len(outbox_after)}
