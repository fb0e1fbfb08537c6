"""The Simulator: several simulated tenants behind one Starlette app."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta

import httpx
from starlette.applications import Starlette

from amperity_ops.simulator._app import build_app
from amperity_ops.simulator._auth import TokenAuthority
from amperity_ops.simulator._clock import Clock, SystemClock
from amperity_ops.simulator._control import control_routes
from amperity_ops.simulator._faults import Faults
from amperity_ops.simulator._ratelimit import SlidingWindowLimiter
from amperity_ops.simulator._requestlog import RequestLog
from amperity_ops.simulator._server import serve_in_thread
from amperity_ops.simulator._tenant import TenantRuntime, TenantSpec
from amperity_ops.simulator._timeutil import to_epoch
from amperity_ops.simulator._transport import SimulatorTransport
from amperity_ops.simulator._world import TenantWorld

#: The base URL to pair with ``Simulator.transport()`` (any host works in-process).
IN_PROCESS_BASE_URL = "http://simulator.local/api"

#: Default api-version per family, for the convenience client.
DEFAULT_VERSION = "2024-04-01"


class Simulator:
    """Simulated Amperity tenants: the API, the living world, faults and a rate limit.

    Args:
        tenants: The tenants to simulate (at least one).
        clock: Simulated time; default a real clock, accelerated by ``speed``.
        speed: Simulated seconds per real second when no clock is given.
        rate_limit_rps: Per-tenant limit (requests in any one-second window); None or 0 = off.
        rate_limit_clock: Monotonic seconds for the limiter (default ``time.monotonic``);
            real time even when the world runs on a ManualClock, unless you inject one.
        signing_key: HMAC key for minted tokens (default: derived from the tenants' seeds,
            so tokens are repeatable).

    Raises:
        ValueError: If no tenants are given or two share an id.
    """

    def __init__(
        self,
        tenants: Sequence[TenantSpec],
        *,
        clock: Clock | None = None,
        speed: float = 1.0,
        rate_limit_rps: float | None = 10.0,
        rate_limit_clock: Callable[[], float] = time.monotonic,
        signing_key: bytes | None = None,
    ) -> None:
        if not tenants:
            raise ValueError("a Simulator needs at least one TenantSpec")
        ids = [spec.tenant_id for spec in tenants]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate tenant ids: {', '.join(duplicates)}")
        self.clock: Clock = clock if clock is not None else SystemClock(speed=speed)
        seeds = ",".join(f"{spec.tenant_id}={spec.seed}" for spec in tenants)
        self.authority = TokenAuthority(
            signing_key or hashlib.sha256(f"amperity-sim:{seeds}".encode()).digest())
        self._runtimes = {spec.tenant_id: TenantRuntime(spec, self.clock) for spec in tenants}
        self._rate_limit_clock = rate_limit_clock
        self.limiter: SlidingWindowLimiter | None = None
        self.set_rate_limit(rate_limit_rps)
        self.unrouted_log = RequestLog()
        self._app: Starlette | None = None
        self._app_lock = threading.Lock()

    # ---------------------------------------------------------------- access
    @property
    def app(self) -> Starlette:
        """The Starlette ASGI app (API under /api, control under /_sim)."""
        with self._app_lock:
            if self._app is None:
                self._app = build_app(self, control_routes(self))
            return self._app

    @property
    def tenant_ids(self) -> tuple[str, ...]:
        """The simulated tenants' ids."""
        return tuple(self._runtimes)

    def runtime_or_none(self, tenant_id: str) -> TenantRuntime | None:
        """The live runtime of a tenant, or None."""
        return self._runtimes.get(tenant_id)

    def _runtime(self, tenant_id: str) -> TenantRuntime:
        try:
            return self._runtimes[tenant_id]
        except KeyError:
            raise KeyError(f"no simulated tenant {tenant_id!r}; tenants: "
                           f"{', '.join(self._runtimes)}") from None

    def tenant(self, tenant_id: str) -> TenantWorld:
        """The tenant's world (runs, ingest jobs, catalog) and its test helpers."""
        return self._runtime(tenant_id).world

    def spec(self, tenant_id: str) -> TenantSpec:
        """The spec the tenant was built from."""
        return self._runtime(tenant_id).spec

    def now(self) -> datetime:
        """The simulated time."""
        return self.clock.now()

    # ---------------------------------------------------------------- faults
    def set_faults(self, tenant_id: str, faults: Faults) -> None:
        """Replace the tenant's faults (``Faults()`` = healthy)."""
        self._runtime(tenant_id).faults.set(faults)

    def faults(self, tenant_id: str) -> Faults:
        """The tenant's faults still in force (counted ones show what is left)."""
        return self._runtime(tenant_id).faults.current

    def clear_faults(self, tenant_id: str) -> None:
        """Make the tenant healthy again."""
        self.set_faults(tenant_id, Faults())

    # ---------------------------------------------------------------- limits
    @property
    def rate_limit_rps(self) -> float | None:
        """The per-tenant limit in requests per second, or None when off."""
        return self.limiter.rps if self.limiter is not None else None

    def set_rate_limit(self, rps: float | None) -> None:
        """Change the per-tenant rate limit at run time (None or 0 turns it off)."""
        if rps is not None and rps < 0:
            raise ValueError(f"rate_limit_rps must not be negative, got {rps}")
        self.limiter = (SlidingWindowLimiter(rps, clock=self._rate_limit_clock)
                        if rps else None)

    @property
    def rate_limit_clock(self) -> Callable[[], float]:
        """The limiter's monotonic seconds (also when each request arrived, in the logs)."""
        return self._rate_limit_clock

    # ---------------------------------------------------------------- tokens
    def mint_token(
        self,
        tenant_id: str,
        *,
        expires_at: datetime | None = None,
        expires_in: timedelta | None = None,
        subject: str = "api-key-sim",
        read_only: bool = False,
    ) -> str:
        """A JWT-shaped token the tenant accepts until ``exp`` (simulated time).

        Args:
            tenant_id: The tenant the token is for.
            expires_at: When it expires (timezone-aware).
            expires_in: Or: how long from now (default one hour).
            subject: The ``sub`` claim (shows as the principal on runs it starts).
            read_only: A token that may only read (POSTs answer 403).
        """
        runtime = self._runtime(tenant_id)
        now = to_epoch(self.clock.now())
        if expires_at is not None:
            exp = to_epoch(expires_at)
        else:
            exp = now + (expires_in or timedelta(hours=1)).total_seconds()
        return self.authority.mint(runtime.tenant_id, expires_at=exp, issued_at=now,
                                   subject=subject, read_only=read_only)

    # ------------------------------------------------------------- requests
    def request_log(self, tenant_id: str) -> RequestLog:
        """The tenant's log of answered requests (counts by path, route and status)."""
        return self._runtime(tenant_id).log

    # ------------------------------------------------------------- transport
    def transport(self) -> SimulatorTransport:
        """A sync httpx transport that calls the app in-process (thread-safe)."""
        return SimulatorTransport(self.app)

    def http_client(
        self,
        tenant_id: str,
        *,
        token: str | None = None,
        api_version: str | None = DEFAULT_VERSION,
        timeout: float = 5.0,
    ) -> httpx.Client:
        """A raw httpx client bound to a tenant in-process, with its headers set.

        For tests of the simulator itself and quick scripts; the product uses AmperityClient.
        ``token`` defaults to the tenant's first static token; ``api_version=None`` omits it.
        """
        spec = self.spec(tenant_id)
        headers = {"amperity-tenant": tenant_id}
        bearer = token if token is not None else (spec.static_tokens[0] if spec.static_tokens
                                                  else self.mint_token(tenant_id))
        headers["authorization"] = f"Bearer {bearer}"
        if api_version is not None:
            headers["api-version"] = api_version
        return httpx.Client(base_url=IN_PROCESS_BASE_URL, transport=self.transport(),
                            headers=headers, timeout=timeout)

    @contextlib.contextmanager
    def serve(self, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve over a real socket (uvicorn in a thread); yields ``http://HOST:PORT/api``."""
        with serve_in_thread(self.app, host=host, port=port) as root:
            yield f"{root}/api"

    def __repr__(self) -> str:
        return f"Simulator(tenants={list(self._runtimes)}, clock={self.clock!r})"
