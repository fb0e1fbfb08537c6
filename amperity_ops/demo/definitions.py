"""The demo's code location: the shipped one plus a tiny downstream Dagster asset.

``./scripts/demo`` loads this module (``amperity_ops/demo/workspace.yaml``), not
``amperity_ops.definitions``: the downstream asset is demo material and never ships. It shows
what a user's project does with Amperity assets: ``pos_sales_report`` depends on the "Hourly POS
Transactions" courier group with ``AutomationCondition.eager()``, so Dagster materializes it
once after each successful run of that workflow (reported by the asset event sensor), never
after a failed or stopped one.
"""

# No `from __future__ import annotations`: Dagster reads the context annotation.

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    asset,
)

from amperity_ops.defs.factory import build_amperity_defs

__all__ = ["defs"]

UPSTREAM_SUFFIX = ("courier_groups", "hourly_pos_transactions")


def _upstream(amperity: Definitions) -> list[AssetKey]:
    """The POS courier group's key as the catalog made it (the tenant is in the key)."""
    keys = amperity.resolve_asset_graph().get_all_asset_keys()
    return [k for k in keys if tuple(k.path[-2:]) == UPSTREAM_SUFFIX][:1]


_amperity = build_amperity_defs()


@asset(
    deps=_upstream(_amperity),
    automation_condition=AutomationCondition.eager(),
    group_name="downstream",
    kinds={"python"},
    description="Demo only: a report built from the POS transactions Amperity loaded. Runs "
    "after each successful run of the Hourly POS Transactions courier group.",
)
def pos_sales_report(context: AssetExecutionContext) -> None:
    """Stands for a user's own asset built on Amperity's output."""
    context.log.info("the POS courier group succeeded: the report is rebuilt")


# Open-source Dagster creates its default automation sensor stopped; the demo's runs at once.
demo_automation_sensor = AutomationConditionSensorDefinition(
    "demo_automation_sensor", target=AssetSelection.assets(pos_sales_report),
    default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
    description="Evaluates pos_sales_report's eager condition (demo only).")

defs = Definitions.merge(
    _amperity, Definitions(assets=[pos_sales_report], sensors=[demo_automation_sensor]))
