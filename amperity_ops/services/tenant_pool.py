"""Work on many tenants at once: a bounded pool of threads, a deadline per tenant, a budget.

The work is waiting on the API (about 100 ms per answer over the internet), so threads are the
right tool: while one tenant waits, the others are read. Each tenant has its own client
(credentials, connection pool) and its own request budget, so running tenants side by side
never lets one tenant send more than it may; the pool bounds only how many tenants wait at the
same time.

Three promises:

* **Every tenant is started, in order, until the tick's budget is spent.** Tenants are handed
  to the pool one at a time, each only when a thread is free and the budget is not spent; so
  the tenants not started always form the tail of the order, and the next tick starts with
  the first of them (:attr:`PoolOutcome.resume_tenant`, the sensor's cursor).
* **A tenant that hangs costs only its own timeout.** Each tenant has a deadline
  (``tenant_timeout`` after it started, never later than the budget plus
  :data:`FINISH_GRACE_S`). A tenant past its deadline is left behind: reported in
  ``timed_out``, its thread left to end on its own HTTP timeout, and another thread takes its
  place, so the others go on at full width. Its work is never used, so a late thread cannot
  write anything: workers only read, the caller applies (see ``services/sla_guard.py``).
* **One failing tenant hides no other.** An API or configuration error is that tenant's
  one-line error; anything else is a bug and is raised in the caller's thread.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from amperity_ops.client import AmperityError
from amperity_ops.services.tenants import ClientFactory, describe_tenant_error, make_client
from amperity_ops.settings import ConfigError

if TYPE_CHECKING:
    from amperity_ops.client import AmperityClient
    from amperity_ops.settings import TenantConfig

__all__ = [
    "FINISH_GRACE_S",
    "POLL_TENANT_TIMEOUT_S",
    "OutOfTime",
    "PoolOutcome",
    "TenantWork",
    "for_each_tenant_at_once",
    "run_tenants",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
OutOfTime = Callable[[], bool]
"""True once a tenant should request nothing more (the tick's budget or its own deadline)."""
TenantWork = Callable[["TenantConfig", "AmperityClient", OutOfTime], T]
"""What to do for one tenant, with its open client and its own out-of-time test."""

FINISH_GRACE_S = 5.0
"""A tenant started just before the tick's budget ran out gets at most this long after it to
finish the request it is in (it asks for nothing more once the budget is spent)."""


@dataclass
class PoolOutcome(Generic[T]):
    """What happened to each tenant, in the order they were started."""

    results: dict[str, T] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    """Tenant -> one-line error (API or configuration), secrets scrubbed."""
    timed_out: list[str] = field(default_factory=list)
    """Tenants left behind at their deadline (also in ``errors``)."""
    not_started: list[str] = field(default_factory=list)
    """The tail of the order the budget did not reach."""

    @property
    def resume_tenant(self) -> str | None:
        """The tenant the next tick starts with: the first not started (None: all started)."""
        return self.not_started[0] if self.not_started else None


@dataclass
class _Running:
    name: str
    deadline: float


def run_tenants(
    tenants: Sequence[TenantConfig],
    work: TenantWork[T],
    *,
    factory: ClientFactory = make_client,
    concurrency: int = 1,
    tenant_timeout_s: float = 10.0,
    budget_s: float | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    deadline_clock: Callable[[], float] = time.monotonic,
) -> PoolOutcome[T]:
    """Run ``work`` for each tenant with its own client, at most ``concurrency`` at a time.

    Args:
        tenants: The tenants, in the order to start them (the sensor rotates it to resume).
        work: Called in a worker thread with (tenant, its open client, its out-of-time test);
            should check the test between requests and return what it read.
        factory: Builds a tenant's client (opened and closed in the worker thread).
        concurrency: Threads working at once (>= 1; 1 is one tenant after another).
        tenant_timeout_s: How long one tenant may take from its start.
        budget_s: No tenant is started after this many seconds (None: no budget); the first
            tenant always is, so every tick makes progress.
        monotonic: Elapsed-time source for the budget (injected in tests).
        deadline_clock: Real seconds for the tenants' deadlines and the waits (a hang is
            real time, whatever the budget's clock says).

    Returns:
        Results and errors per tenant, who timed out, and who was not started.
    """
    outcome: PoolOutcome[T] = PoolOutcome()
    if not tenants:
        return outcome
    start, real_start = monotonic(), deadline_clock()

    def budget_spent() -> bool:
        return budget_s is not None and monotonic() - start > budget_s

    def run_one(tenant: TenantConfig, began: float) -> T:
        def out_of_time() -> bool:
            return budget_spent() or deadline_clock() - began > tenant_timeout_s

        with factory(tenant) as client:
            return work(tenant, client, out_of_time)

    pending = deque(tenants)
    running: dict[Future[T], _Running] = {}
    # Threads are made only when no idle one is left, so the pool holds `concurrency` threads
    # plus one per tenant left behind (each ends on its own HTTP timeout).
    pool = ThreadPoolExecutor(max_workers=len(tenants), thread_name_prefix="amperity-tenant")
    try:
        while pending or running:
            while pending and len(running) < concurrency:
                if (outcome.results or outcome.errors or running) and budget_spent():
                    outcome.not_started = [t.name for t in pending]
                    pending.clear()
                    break
                tenant = pending.popleft()
                began = deadline_clock()
                deadline = began + tenant_timeout_s
                if budget_s is not None:
                    deadline = min(deadline, real_start + budget_s + FINISH_GRACE_S)
                running[pool.submit(run_one, tenant, began)] = _Running(tenant.name, deadline)
            if not running:
                break
            wait_s = max(0.0, min(r.deadline for r in running.values()) - deadline_clock())
            done, _ = wait(running, timeout=wait_s, return_when=FIRST_COMPLETED)
            for future in done:
                _collect(outcome, running.pop(future).name, future, tenants)
            now = deadline_clock()
            for future, entry in list(running.items()):
                if now >= entry.deadline and not future.done():
                    del running[future]
                    future.cancel()  # only stops one not yet begun; a busy thread ends alone
                    outcome.timed_out.append(entry.name)
                    outcome.errors[entry.name] = (
                        f"no answer within its {tenant_timeout_s:g}s tenant_timeout; left "
                        "behind (the others went on), evaluated again next tick"
                    )
                    log.warning("tenant %s: %s", entry.name, outcome.errors[entry.name])
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return outcome


def _collect(
    outcome: PoolOutcome[T], name: str, future: Future[T], tenants: Sequence[TenantConfig]
) -> None:
    """File a finished tenant's result or error; an unexpected exception is raised."""
    try:
        outcome.results[name] = future.result()
    except (AmperityError, ConfigError) as err:  # one tenant down must not silence others
        tenant = next(t for t in tenants if t.name == name)
        outcome.errors[name] = describe_tenant_error(tenant, err)
        log.warning("tenant %s: %s", name, outcome.errors[name])


POLL_TENANT_TIMEOUT_S = 120.0
"""How long one tenant's poll may take before the asset reports it and goes on."""


def for_each_tenant_at_once(
    tenants: Sequence[TenantConfig],
    work: Callable[[TenantConfig, AmperityClient], T],
    factory: ClientFactory = make_client,
    *,
    concurrency: int = 1,
    tenant_timeout_s: float = POLL_TENANT_TIMEOUT_S,
) -> tuple[dict[str, T], dict[str, str]]:
    """``services.tenants.for_each_tenant``, ``concurrency`` tenants at a time.

    For the polling assets: each tenant's work reads its API and writes its own rows (the
    store is safe to share between threads; SQLite serialises the short write transactions).

    Returns:
        (tenant name -> result, in the tenants' order; tenant name -> one-line error).
    """
    outcome = run_tenants(
        tenants,
        lambda tenant, client, _out_of_time: work(tenant, client),
        factory=factory,
        concurrency=concurrency,
        tenant_timeout_s=tenant_timeout_s,
    )
    ordered = {t.name: outcome.results[t.name] for t in tenants if t.name in outcome.results}
    return ordered, outcome.errors
