"""Everything a service call needs, built once from settings: config, store, clients, time.

``OpsRuntime`` is what the Dagster resource hands to assets, sensors and the stop job, and what
the CLI builds for itself. Building it reads the policy file and opens the store (a local
operation); it makes no API call: clients are created only inside :meth:`OpsRuntime.clients`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from amperity_ops.client import AmperityClient
from amperity_ops.monitoring.shards import Shard
from amperity_ops.services.clock import clock_from_env, utc_now
from amperity_ops.services.tenants import ClientFactory, make_client, open_clients
from amperity_ops.settings import (
    OpsConfig,
    OpsSettings,
    TenantConfig,
    UnknownTenantError,
    load_ops_config,
)

if TYPE_CHECKING:
    from amperity_ops.client import TenantConnection
    from amperity_ops.store import Store

__all__ = ["OpsRuntime", "UnknownTenantError", "utc_now"]


@dataclass
class OpsRuntime:
    """The configuration, the store and the way to reach each tenant, with injectable time."""

    config: OpsConfig
    store: Store
    client_factory: ClientFactory = make_client
    clock: Callable[[], datetime] = utc_now
    sleep: Callable[[float], None] = field(default=time.sleep)
    monotonic: Callable[[], float] = field(default=time.monotonic)
    """Real seconds for measuring real waits (a stop's wait and timeout), never the SLA clock."""
    shard: Shard | None = None
    """The shard this runtime watches (``config.tenants`` holds only its tenants); None: all."""

    @classmethod
    def from_settings(
        cls,
        *,
        config_path: str | None = None,
        store_url: str | None = None,
        tenant: TenantConnection | None = None,
        config: OpsConfig | None = None,
        shard: Shard | None = None,
    ) -> OpsRuntime:
        """Build the runtime from the policy file and the store URL.

        Args:
            config_path: The policy file; None reads ``AMPERITY_OPS_CONFIG`` (no file: defaults).
            store_url: A SQLAlchemy URL; None reads ``AMPERITY_OPS_STORE_URL`` (default: a SQLite
                file under ``$DAGSTER_HOME``).
            tenant: The tenant when the policy file lists none (instead of ``AMPERITY_*``);
                giving it beside a ``tenants:`` list is an error.
            config: The policy file as Python (``build_amperity_defs(config=...)``); then
                ``config_path`` and ``tenant`` are not read.
            shard: Keep only this shard's tenants (``AMPERITY_OPS_SHARD``, read by the code
                location at load); None keeps every tenant.

        The clock is the system clock unless ``AMPERITY_OPS_CLOCK=simulator`` (the demo).

        Returns:
            The runtime. No API call is made.

        Raises:
            amperity_ops.settings.ConfigError: If the policy file is invalid (names the field).
        """
        from amperity_ops.store import Store  # the store's driver imports stay out of load time

        if config is None:
            config = load_ops_config(config_path, tenant=tenant)
        url = store_url or OpsSettings().store_url
        clock = clock_from_env(config.tenants[0].base_url)
        if shard is not None:
            source = str(config_path or OpsSettings().config_path or "environment")
            # Validated as a whole above; a shard is a view of it (possibly without tenants).
            config = config.model_copy(
                update={"tenants": shard.select(config.tenants, source=source)}
            )
        return cls(config=config, store=Store.from_url(url), clock=clock, shard=shard)

    def close(self) -> None:
        """Release the store's connections (and the simulator clock's HTTP client, if any)."""
        self.store.close()
        close_clock = getattr(self.clock, "close", None)
        if callable(close_clock):
            close_clock()

    @property
    def tenants(self) -> Sequence[TenantConfig]:
        """Every tenant in the policy file, or this shard's share of them (possibly none)."""
        return self.config.tenants

    def tenant(self, name: str | None) -> TenantConfig:
        """The tenant called ``name`` (its name or tenant id); None means the first tenant.

        Raises:
            UnknownTenantError: If no tenant has that name (the message lists the known ones).
        """
        return self.config.tenant(name)

    @contextmanager
    def clients(self, names: Sequence[str] | None = None) -> Iterator[Mapping[str, AmperityClient]]:
        """Open a client per tenant (all, or those named) and close them afterwards.

        Yields:
            Tenant name -> client.
        """
        chosen = self.tenants if names is None else [self.tenant(n) for n in names]
        with open_clients(chosen, self.client_factory) as clients:
            yield clients

    @contextmanager
    def client(self, name: str | None) -> Iterator[AmperityClient]:
        """Open the client of one tenant (None: the first one)."""
        tenant = self.tenant(name)
        with self.clients([tenant.name]) as clients:
            yield clients[tenant.name]
