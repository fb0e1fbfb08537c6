"""The demo's code location: the shipped definitions plus an eager downstream asset."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import AssetKey, AutomationCondition, Definitions

from amperity_ops.monitoring.catalog import Catalog, CatalogWorkflow
from amperity_ops.services.catalog import write_catalog

POS = AssetKey(["amperity", "acme_demo", "courier_groups", "hourly_pos_transactions"])
LOYALTY = AssetKey(["amperity", "acme_demo", "courier_groups", "loyalty_program_feed"])


def test_demo_adds_an_eager_report_downstream_of_the_pos_courier_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pos_sales_report depends on Hourly POS Transactions (eager); Loyalty is startable."""
    root = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("AMPERITY_OPS_CONFIG", str(root / "amperity_ops/demo/policy.yaml"))
    monkeypatch.setenv("AMPERITY_TENANT_ID", "acme-demo")
    monkeypatch.setenv("AMPERITY_ACCESS_TOKEN", "demo-token")
    monkeypatch.setenv("AMPERITY_OPS_CATALOG_DIR", str(tmp_path))
    write_catalog(tmp_path, Catalog(
        tenant="acme-demo", refreshed_at=datetime(2026, 12, 1, tzinfo=UTC), days=3,
        workflows=[CatalogWorkflow(name="Hourly POS Transactions", type="courier.group/run"),
                   CatalogWorkflow(name="Loyalty Program Feed", type="courier.group/run")]))
    import amperity_ops.demo.definitions as demo

    defs: Definitions = importlib.reload(demo).defs
    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    report = graph.get(AssetKey("pos_sales_report"))
    assert report.parent_keys == {POS}
    assert report.automation_condition == AutomationCondition.eager()
    assert graph.get(LOYALTY).is_materializable
    assert not graph.get(POS).is_materializable
    defs.resolve_sensor_def("demo_automation_sensor")
