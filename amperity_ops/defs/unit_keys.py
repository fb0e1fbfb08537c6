"""Default asset keys of Amperity units, as issue 8 fixes them (until the translator lands).

``amperity/<tenant>/<kind segment>/<slug>``: slug = lowercase, each run of characters outside
``a-z0-9`` becomes ``_``, trimmed of ``_``; kind segments ``courier_groups``,
``orchestration_groups``, ``campaigns``, ``workflows``, ``tables`` (and ``indexes`` for profile
indexes). ``amperity_ops/defs/translator.py::AmperityTranslator`` owns these keys once merged;
the startable assets and the index assets take a key function so it can be swapped in.
"""

from __future__ import annotations

import re

from dagster import AssetKey

__all__ = ["index_key", "kind_segment", "slug", "workflow_key"]

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_KIND_BY_TYPE = (
    ("courier.group", "courier_groups"),
    ("orchestration.group", "orchestration_groups"),
    ("campaign", "campaigns"),
)
_KIND_BY_CONFIG_PREFIX = {"cg": "courier_groups", "og": "orchestration_groups", "cc": "campaigns"}


def slug(name: str) -> str:
    """``"Daily Ecommerce Sources"`` -> ``daily_ecommerce_sources``."""
    return _NOT_SLUG.sub("_", name.lower()).strip("_") or "unnamed"


def kind_segment(*, type_: str | None = None, config_id: str | None = None) -> str:
    """The key segment keeping a courier group and a campaign of the same name apart.

    From the run type when known (``courier.group/run``), else from the config id's prefix
    (``cg-``, ``og-``, ``cc-``), else ``workflows``.
    """
    if type_:
        for prefix, segment in _KIND_BY_TYPE:
            if type_.startswith(prefix):
                return segment
        return "workflows"
    if config_id and "-" in config_id:
        return _KIND_BY_CONFIG_PREFIX.get(config_id.split("-", 1)[0], "workflows")
    return "workflows"


def workflow_key(
    tenant: str, name: str, *, type_: str | None = None, config_id: str | None = None
) -> AssetKey:
    """``amperity/<tenant>/<kind>/<slug of the workflow name>``."""
    return AssetKey(["amperity", tenant, kind_segment(type_=type_, config_id=config_id),
                     slug(name)])


def index_key(tenant: str, name: str) -> AssetKey:
    """``amperity/<tenant>/indexes/<slug of the index name>``."""
    return AssetKey(["amperity", tenant, "indexes", slug(name)])
