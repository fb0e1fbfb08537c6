"""A sink that fails half the time over 200 alerts (a real HTTP receiver on a loopback port).

The receiver answers 500 on every other request and records every request it read, so it
sees the alerts it refused once more when they are retried: exactly the duplicates the tick
summary must count ("outbox: 100 delivered (50 retried)").
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from amperity_ops.services.sla_guard import run_sla_tick
from amperity_ops.simulator import ManualClock, Simulator
from amperity_ops_tests.crash.receivers import RecordingHook, copies
from amperity_ops_tests.receiver import serving
from amperity_ops_tests.services.helpers import TENANT, make_config, make_runtime, sqlite_url

pytestmark = pytest.mark.slow

ALERTS = 200


def test_a_sink_failing_every_other_request_gets_all_200_alerts_duplicates_counted(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    """200 breaches to a 50%-failing webhook: all delivered, none lost, retries in the summary."""
    sim.set_rate_limit(None)
    hook = RecordingHook.fresh(fail_every=2)
    world = sim.tenant(TENANT)
    runs = [world.add_run(name=f"Nightly Load {i}", started_ago=timedelta(hours=3))
            for i in range(ALERTS)]
    policy = {"name": "slow", "match": {"name": "Nightly*"}, "warn_after": "1h",
              "max_runtime": "2h"}
    with serving(hook) as base_url:
        config = make_config(policies=[policy], alerts=[{"kind": "webhook", "url": base_url}])
        runtime = make_runtime(sim, clock, sqlite_url(tmp_path), config)
        summaries: list[str] = []
        delivered = retried = 0
        last = None
        for _ in range(15):
            last = run_sla_tick(runtime, now=clock.now(), budget_s=30,
                                last_tick_at=last.started_at if last else None)
            assert last.delivery is not None
            delivered += last.delivery.delivered
            retried += last.delivery.retried
            summaries.append(last.summary())
            if runtime.store.outbox_counts() == {"delivered": ALERTS}:
                break
            # Retries back off from 30 s to the 15 min cap; the ticks between these would find
            # nothing due (every pending item waits for its retry time), so they are skipped.
            clock.advance(timedelta(minutes=15))
    assert runtime.store.outbox_counts() == {"delivered": ALERTS}  # none pending, none expired
    # Half of what is due goes out each tick: a flaky sink is not one alert per tick.
    assert len(summaries) <= 12, summaries
    seen = copies(hook.seen, "workflow_id", "level")
    assert set(seen) == {(run.id, "breached") for run in runs}  # every alert, none lost
    twice = sum(1 for n in seen.values() if n > 1)
    assert delivered == ALERTS
    assert retried == twice > 0  # each alert the sink saw more than once is counted
    shown = [int(m.group(1)) for s in summaries
             for m in [re.search(r"outbox: \d+ delivered \((\d+) retried\)", s)] if m]
    assert sum(shown) == twice, summaries
