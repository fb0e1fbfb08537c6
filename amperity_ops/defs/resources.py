"""The one resource every Amperity asset, sensor and job uses: ``amperity_ops``.

It hands user code an :class:`~amperity_ops.services.runtime.OpsRuntime` (policy file, history
store, one client per tenant), not a config object, so tests can pass a runtime built over the
simulator directly (``resources={"amperity_ops": runtime}``). Assets, sensors and ops declare it
as ``amperity_ops: ResourceParam[OpsRuntime]``.
"""

from __future__ import annotations

from collections.abc import Iterator

from dagster import Field, InitResourceContext, Noneable, resource

from amperity_ops.services.runtime import OpsRuntime

__all__ = ["RESOURCE_KEY", "amperity_ops_resource"]

RESOURCE_KEY = "amperity_ops"
"""The resource key assets, sensors and ops ask for."""


@resource(
    config_schema={
        "config_path": Field(
            Noneable(str),
            default_value=None,
            is_required=False,
            description="Path of the YAML policy file (policies, auto_stop, alerts, tenants). "
            "Empty: $AMPERITY_OPS_CONFIG; no file at all: defaults with one tenant from the "
            "AMPERITY_* variables.",
        ),
        "store_url": Field(
            Noneable(str),
            default_value=None,
            is_required=False,
            description="SQLAlchemy URL of the history store. Empty: $AMPERITY_OPS_STORE_URL, "
            "else a SQLite file under $DAGSTER_HOME.",
        ),
    },
    description="Amperity policy file, history store and one API client per tenant. Read when "
    "a run or sensor tick starts, never when the code location loads; credentials come from "
    "the policy file's {env: NAME} references or AMPERITY_* variables, never from this config.",
)
def amperity_ops_resource(context: InitResourceContext) -> Iterator[OpsRuntime]:
    """Read the policy file and open the store (no API call); close the store afterwards."""
    config = context.resource_config or {}
    runtime = OpsRuntime.from_settings(
        config_path=config.get("config_path"), store_url=config.get("store_url")
    )
    try:
        yield runtime
    finally:
        # Sensor ticks build a runtime every minute in a long-lived code server: release the
        # store's connections instead of waiting for garbage collection.
        runtime.close()
