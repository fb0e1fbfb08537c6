"""The one resource every Amperity asset, sensor and job uses: ``amperity_ops``.

It hands user code an :class:`~amperity_ops.services.runtime.OpsRuntime` (policy file, history
store, one client per tenant), not a config object, so tests can pass a runtime built over the
simulator directly (``resources={"amperity_ops": runtime}``). Assets, sensors and ops declare it
as ``amperity_ops: ResourceParam[OpsRuntime]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import InitResourceContext
from dagster._config.pythonic_config import ConfigurableResourceFactory  # not top-level in 1.13
from pydantic import Field

from amperity_ops.defs.tenant_resource import AmperityResource
from amperity_ops.services.runtime import OpsRuntime

__all__ = ["RESOURCE_KEY", "AmperityOpsResource", "amperity_ops_resource"]

RESOURCE_KEY = "amperity_ops"
"""The resource key assets, sensors and ops ask for."""


class AmperityOpsResource(ConfigurableResourceFactory[OpsRuntime]):
    """Amperity policy file, history store and one API client per tenant. Read when a run or
    sensor tick starts, never when the code location loads; credentials come from the policy
    file's {env: NAME} references, the `tenant` below (EnvVar) or AMPERITY_* variables.
    """

    config_path: str | None = Field(
        default=None,
        description="Path of the YAML policy file (policies, auto_stop, alerts, tenants). "
        "Empty: $AMPERITY_OPS_CONFIG; no file at all: defaults with one tenant from the "
        "AMPERITY_* variables (or from `tenant`).",
    )
    store_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the history store. Empty: $AMPERITY_OPS_STORE_URL, "
        "else a SQLite file under $DAGSTER_HOME.",
    )
    tenant: AmperityResource | None = Field(
        default=None,
        description="The one tenant, when the policy file has no 'tenants:' list: used instead "
        "of the AMPERITY_* variables (give secrets as EnvVar). Set beside a tenants list, it "
        "is an error.",
    )

    def create_resource(self, context: InitResourceContext) -> OpsRuntime:
        """Read the policy file and open the store (no API call); the caller closes it."""
        return OpsRuntime.from_settings(
            config_path=self.config_path,
            store_url=self.store_url,
            tenant=None if self.tenant is None else self.tenant.settings(),
        )

    @contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[OpsRuntime]:
        """The runtime for one run or tick; its store is closed when that ends."""
        runtime = self.create_resource(context)
        try:
            yield runtime
        finally:
            # Sensor ticks build a runtime every minute in a long-lived code server: release the
            # store's connections instead of waiting for garbage collection.
            runtime.close()


amperity_ops_resource = AmperityOpsResource()
"""The resource as wired into the code location (configured at launch, or by the defaults)."""
