"""The ``OpsRuntime`` resource for a policy held in memory (the Component's ``defs.yaml``).

``AmperityOpsResource`` reads a policy *file*; a Component carries its policy in its YAML
attributes instead, already validated as an :class:`~amperity_ops.settings.OpsConfig`. This
resource hands that config to user code the same way: an ``OpsRuntime`` per run or tick, with
the store opened then (never at load) and closed afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

from dagster import InitResourceContext, ResourceDefinition, resource

from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.settings import OpsConfig

__all__ = ["inline_runtime_resource", "open_runtime"]


def open_runtime(config: OpsConfig, store_url: str | None = None) -> OpsRuntime:
    """A runtime over an in-memory policy: opens the store (no API call).

    Args:
        config: The validated policy.
        store_url: The history store; None: ``AMPERITY_OPS_STORE_URL`` or the default file.
    """
    return OpsRuntime.from_settings(config=config, store_url=store_url)


def inline_runtime_resource(config: OpsConfig, store_url: str | None = None) -> ResourceDefinition:
    """A resource yielding :func:`open_runtime` for each run or tick, closed when it ends."""
    names = ", ".join(t.name for t in config.tenants)
    # Never put in run config: the policy may hold literal secrets.

    @resource(description=f"Amperity policy (given in Python or defs.yaml) and history store; "
              f"tenant(s) {names}")
    def _runtime(_: InitResourceContext) -> Iterator[OpsRuntime]:
        runtime = open_runtime(config, store_url)
        try:
            yield runtime
        finally:
            runtime.close()

    return _runtime
