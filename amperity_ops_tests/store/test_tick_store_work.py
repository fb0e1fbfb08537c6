"""The SLA tick's store writes: runs read again unchanged are only marked seen, not rewritten.

Over the simulator (in-process) and a real store, SQLite and Postgres: the statements the tick
sends are counted with SQLAlchemy's cursor events and the rows are read back from the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event, select

from amperity_ops.monitoring.stop_retry import JobState
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.sla_guard import SlaTickResult, run_sla_tick
from amperity_ops.simulator import ManualClock, Simulator, TenantSpec
from amperity_ops.store.schema import workflow_runs
from amperity_ops_tests.services.helpers import TOKEN, make_config, make_runtime, sqlite_url


def _sim(names: list[str], clock: ManualClock) -> Simulator:
    return Simulator(
        [TenantSpec(tenant_id=t, static_tokens=(TOKEN,), seed=i, schedules=False)
         for i, t in enumerate(names)],
        clock=clock,
        rate_limit_rps=None,
    )


def _runtime(sim: Simulator, clock: ManualClock, url: str, names: list[str]) -> OpsRuntime:
    config = make_config(
        tenants=[{"name": t, "tenant_id": t, "access_token": TOKEN} for t in names],
        auto_stop={"max_stops_per_hour": 100},
    )
    return make_runtime(sim, clock, url, config)


def _tick(runtime: OpsRuntime, last: SlaTickResult | None = None,
          job_state: object = None) -> SlaTickResult:
    return run_sla_tick(runtime, now=runtime.clock(), budget_s=30.0, deliver=False,
                        last_tick_at=last.started_at if last else None,
                        job_state=job_state)  # type: ignore[arg-type]


@contextmanager
def _statements(runtime: OpsRuntime) -> Iterator[list[str]]:
    """The SQL sent to the store inside the block (one entry per execute or executemany)."""
    sent: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        sent.append(statement)

    event.listen(runtime.store.engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(runtime.store.engine, "before_cursor_execute", seen)


def _stored(runtime: OpsRuntime) -> dict[str, tuple[str, object, str]]:
    c = workflow_runs.c
    with runtime.store.engine.connect() as conn:
        return {i: (kind, seen, payload) for i, kind, seen, payload in conn.execute(
            select(c.id, c.state_kind, c.last_seen, c.payload))}


def test_a_run_read_again_unchanged_only_has_its_last_seen_moved(
    store_url: str, clock: ManualClock
) -> None:
    """Second tick: no run row rewritten, every last_seen moved; a run that ended is written."""
    sim = _sim(["a", "b"], clock)
    ids = {t: [sim.tenant(t).add_run(name=f"Load {i}", started_ago=timedelta(minutes=5)).id
               for i in range(3)] for t in ("a", "b")}
    runtime = _runtime(sim, clock, store_url, ["a", "b"])
    first = _tick(runtime)
    before = _stored(runtime)
    assert {i for found in ids.values() for i in found} <= set(before)

    clock.advance(timedelta(minutes=1))
    with _statements(runtime) as sent:
        second = _tick(runtime, first)
    writes = [s for s in sent if s.lstrip().upper().startswith("INSERT")
              and "ao_workflow_runs" in s]
    assert writes == []  # nothing changed: no upsert of a run row
    after = _stored(runtime)
    for run_id in (i for found in ids.values() for i in found):
        assert after[run_id][1] == second.started_at  # last_seen moved
        assert after[run_id][2] == before[run_id][2]  # payload as it was

    ended = ids["b"][0]
    sim.tenant("b").finish_run(ended, "failed")
    clock.advance(timedelta(minutes=1))
    third = _tick(runtime, second)
    final = _stored(runtime)
    assert final[ended][0] == "failed"
    assert final[ended][2] != after[ended][2]
    assert final[ids["a"][0]][1] == third.started_at
    runtime.close()


def _retry_statements(tmp_path: Path, clock: ManualClock, n: int) -> int:
    """Statements of a steady tick that checks its open stops, over n tenants."""
    names = [f"t{i:02d}" for i in range(n)]
    sim = _sim(names, clock)
    for t in names:
        sim.tenant(t).add_run(name="Courier Group A", started_ago=timedelta(hours=3))
    runtime = _runtime(sim, clock, sqlite_url(tmp_path), names)

    def in_flight(_key: str) -> JobState:
        return JobState.IN_FLIGHT  # every stop job still queued

    first = _tick(runtime, job_state=in_flight)
    assert len(first.stop_requests) == n
    clock.advance(timedelta(minutes=1))
    with _statements(runtime) as sent:
        _tick(runtime, first, job_state=in_flight)
    runtime.close()
    return len(sent)


def test_checking_the_open_stops_does_not_grow_with_the_tenants(
    tmp_path: Path, clock: ManualClock
) -> None:
    """With the stop jobs' states asked (as the sensor does), 3 tenants or 20: same statements."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    few = _retry_statements(tmp_path / "a", clock, 3)
    many = _retry_statements(tmp_path / "b", clock, 20)
    assert few == many
