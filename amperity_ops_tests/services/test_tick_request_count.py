"""The tick summary counts API requests truthfully: odd records, retries and failed tenants too."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from amperity_ops.client import AmperityClient, RetryPolicy
from amperity_ops.core.alerts import AlertLevel, AlertTrack
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.sla_guard import run_sla_tick
from amperity_ops.settings import TenantConfig
from amperity_ops.simulator import IN_PROCESS_BASE_URL, Faults, ManualClock, Simulator, TenantSpec
from amperity_ops.store import Store
from amperity_ops_tests.services.helpers import TOKEN, make_config, remember_ghost_run

ODD, FAILING = "acme", "brittle"


def test_summary_request_count_equals_the_simulators_log(
    tmp_path: Path, clock: ManualClock
) -> None:
    """Odd records on one tenant and a tenant failing mid-tick: 'N API request(s)' is the log."""
    sim = Simulator([TenantSpec(tenant_id=t, static_tokens=(TOKEN,), seed=3, schedules=False)
                     for t in (ODD, FAILING)], clock=clock, rate_limit_rps=None)
    for tenant in (ODD, FAILING):
        for n in range(3):
            sim.tenant(tenant).add_run(name=f"Courier Group {n}", started_ago=timedelta(hours=3))
    sim.set_faults(ODD, Faults(odd_records=2, odd_kind="null_created_at"))

    def client_for(tenant: TenantConfig) -> AmperityClient:
        # Three attempts and no real waiting, so the failing tenant retries quickly.
        return AmperityClient(tenant.tenant_id, base_url=IN_PROCESS_BASE_URL,
                              access_token=TOKEN, transport=sim.transport(), rate_limit_rps=None,
                              clock=clock.now, sleep=lambda _s: None,
                              retry_policy=RetryPolicy(max_attempts=3))

    config = make_config(tenants=[{"name": t, "tenant_id": t, "access_token": TOKEN}
                                  for t in (ODD, FAILING)])
    runtime = OpsRuntime(config=config, store=Store.from_url(f"sqlite:///{tmp_path / 's.db'}"),
                         client_factory=client_for, clock=clock.now)
    # The failing tenant: an alerted run the listings do not return is re-read by id, and that
    # read answers 500 every time (after both listings succeeded): the tenant fails mid-tick.
    ghost = remember_ghost_run(runtime)
    runtime.store.upsert_runs(FAILING, [ghost], seen_at=clock.now())
    runtime.store.save_alert_tracks(
        FAILING, {ghost.id: AlertTrack(AlertLevel.BREACHED, AlertLevel.BREACHED, "Ghost")},
        now=clock.now())
    sim.set_faults(FAILING, Faults(server_error_rate=1.0,
                                   only_paths=(f"/workflow/runs/{ghost.id}",)))

    result = run_sla_tick(runtime, now=clock.now(), budget_s=30, deliver=False)

    assert list(result.errors) == [FAILING], result.errors
    sent = sum(sim.request_log(t).total for t in (ODD, FAILING))
    assert sim.request_log(FAILING).total == 2 + 3  # two listings, then three failed re-reads
    said = re.search(r"(\d+) API request\(s\)", result.summary())
    assert said is not None
    assert int(said.group(1)) == sent == result.requests
    assert "2 with start unknown" in result.summary()
