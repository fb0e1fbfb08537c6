"""Names of one amperity-ops instance, so several sit side by side in one code location.

``build_amperity_defs(..., name_suffix="_eu")`` (and each ``AmperityTenantComponent``, whose
suffix defaults to ``_<tenant>``) gives every sensor, job, schedule, op, check and the resource
key the suffix, and moves its overview assets under the suffix
(``amperity/workflow_runs`` -> ``amperity/eu/workflow_runs``). Without a suffix every name is
the plain one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dagster import AssetKey, SensorEvaluationContext

from amperity_ops.defs.resources import RESOURCE_KEY
from amperity_ops.monitoring.catalog import slugify

__all__ = ["overview_key", "resource_key_for", "sensor_resource", "suffixed"]

_NOT_NAME = re.compile(r"[^A-Za-z0-9_]")


def suffixed(name: str, name_suffix: str) -> str:
    """``name`` plus the suffix, with characters Dagster refuses in names made ``_``."""
    return name + _NOT_NAME.sub("_", name_suffix)


def resource_key_for(name_suffix: str) -> str:
    """The instance's resource key: ``amperity_ops`` plus the suffix."""
    return suffixed(RESOURCE_KEY, name_suffix)


def overview_key(key: AssetKey, name_suffix: str) -> AssetKey:
    """An overview asset's key for the instance: ``amperity/<suffix slug>/<rest>``.

    ``amperity/workflow_runs`` with ``_eu`` -> ``amperity/eu/workflow_runs``, beside the
    tenant's own ``amperity/eu/courier_groups/...`` when the suffix is the tenant's name.
    """
    if not name_suffix:
        return key
    return AssetKey([key.path[0], slugify(name_suffix), *key.path[1:]])


def sensor_resource(
    context: SensorEvaluationContext, passed: Mapping[str, Any], resource_key: str
) -> Any:
    """A sensor's resource under ``resource_key`` (declared in ``required_resource_keys``).

    Invoked directly (tests), Dagster passes it as a keyword argument; evaluated by the daemon,
    it is only on ``context.resources``. Both are read.
    """
    if resource_key in passed:
        return passed[resource_key]
    return getattr(context.resources, resource_key)
