"""Test and benchmark harness, not production code: an ``OpsRuntime`` over the simulator.

Clients that reach the simulator in-process, its clock, a real store. The tests and the
benchmarks both drive the services this way; one definition keeps them from drifting apart (a
client built one way in the tests and another in a benchmark measures something else).

Nothing in the code location or the CLI imports this module (a test pins it), and it needs the
simulator's extra (``pip install 'amperity-ops[simulator]'``), as the tests do.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from amperity_ops.client import AmperityClient
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.tenants import ClientFactory
from amperity_ops.settings import OpsConfig, TenantConfig
from amperity_ops.simulator import IN_PROCESS_BASE_URL, ManualClock, Simulator
from amperity_ops.store import Store

__all__ = ["simulated_runtime", "simulator_client_factory"]


def simulator_client_factory(
    clock: ManualClock,
    *,
    token: str,
    transport: httpx.BaseTransport | None = None,
    base_url: str = IN_PROCESS_BASE_URL,
) -> ClientFactory:
    """Clients for the simulated tenants: one token, no rate budget, the simulated clock.

    Args:
        clock: The simulator's clock (the clients read token expiry against it).
        token: The static token every simulated tenant accepts.
        transport: ``sim.transport()`` for in-process calls; None to go over a real socket.
        base_url: The API root: ``IN_PROCESS_BASE_URL`` in-process, else ``sim.serve()``'s URL.

    Returns:
        A factory from tenant configuration to client (the tenant id picks the tenant).
    """

    def factory(tenant: TenantConfig) -> AmperityClient:
        return AmperityClient(
            tenant.tenant_id,
            base_url=base_url,
            access_token=token,
            transport=transport,
            rate_limit_rps=None,  # the simulator's own limiter (if on) is what is under test
            clock=clock.now,
        )

    return factory


def simulated_runtime(
    sim: Simulator, clock: ManualClock, *, config: OpsConfig, store_url: str, token: str
) -> OpsRuntime:
    """A runtime whose clients talk to ``sim`` in-process and whose time is ``clock``.

    ``runtime.sleep`` advances ``clock`` instead of sleeping, so waits cost no real time.

    Args:
        sim: The simulator.
        clock: Its clock.
        config: The policy file, as Python.
        store_url: A SQLAlchemy URL for the history store (created if missing).
        token: The static token the simulated tenants accept.

    Returns:
        The runtime.
    """

    def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    return OpsRuntime(
        config=config,
        store=Store.from_url(store_url),
        client_factory=simulator_client_factory(clock, token=token, transport=sim.transport()),
        clock=clock.now,
        sleep=sleep,
    )
