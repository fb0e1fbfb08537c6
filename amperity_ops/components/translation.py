"""The Component's ``translation`` (a Dagster ``TranslationFn``) as an ``AmperityTranslator``.

``build_amperity_defs`` takes a translator; the Component's YAML ``translation`` is a function
``(default spec, unit) -> spec`` that Dagster builds from templates (``{{ unit.name }}``). This
adapter applies it on top of the default translator, so keys it changes reach the deps of
tables and the keys the sensors report to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dagster import AssetKey, AssetSpec

from amperity_ops.defs.translator import (
    AmperityTableProps,
    AmperityTranslator,
    AmperityWorkflowProps,
)

__all__ = ["TranslationFn", "TranslationFnTranslator"]

TranslationFn = Callable[[AssetSpec, Mapping[str, Any]], AssetSpec]
"""``(default spec, unit) -> spec``: the Component's ``translation``."""


class TranslationFnTranslator(AmperityTranslator):
    """The default translator, then the Component's ``translation`` on each spec.

    The ``unit`` its templates see: ``{"kind": "workflow", "tenant", "name", "type"}`` or
    ``{"kind": "table", "tenant", "name", "loaded_by": [workflow names]}``.
    """

    def __init__(self, fn: TranslationFn | None) -> None:
        super().__init__()
        self.fn = fn

    def get_workflow_spec(self, props: AmperityWorkflowProps) -> AssetSpec:
        """The default spec, translated."""
        spec = super().get_workflow_spec(props)
        if self.fn is None:
            return spec
        return self.fn(spec, {"kind": "workflow", "tenant": props.tenant,
                              "name": props.workflow.name, "type": props.workflow.type})

    def get_table_spec(self, props: AmperityTableProps) -> AssetSpec:
        """The default spec, translated."""
        spec = super().get_table_spec(props)
        if self.fn is None:
            return spec
        return self.fn(spec, {"kind": "table", "tenant": props.tenant, "name": props.table.name,
                              "loaded_by": list(props.table.loaded_by)})

    def get_index_key(self, tenant: str, index_name: str) -> AssetKey:
        """The default index key (``translation`` changes workflow and table specs)."""
        return super().get_index_key(tenant, index_name)
