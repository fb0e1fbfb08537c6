"""The pure parts of the asset graph: slugs, kind segments, learned cadence and freshness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from amperity_ops.monitoring.catalog import CatalogWorkflow, kind_segment, learn_cadence, slugify
from amperity_ops.monitoring.freshness import freshness_rule
from amperity_ops.settings import OpsConfig

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Daily Ecommerce Sources", "daily_ecommerce_sources"),
        ("  POS -- Transactions (v2)!", "pos_transactions_v2"),
        ("Shopify_Orders", "shopify_orders"),
        ("acme-demo", "acme_demo"),
        ("Ümlaut Feed", "mlaut_feed"),
        ("__x__", "x"),
        ("!!!", "_"),
        ("A1b2", "a1b2"),
    ],
)
def test_slugify(text: str, slug: str) -> None:
    """Lowercase, each run outside a-z0-9 becomes one _, trimmed; empty becomes _."""
    assert slugify(text) == slug


@pytest.mark.parametrize(
    ("workflow_type", "segment"),
    [
        ("courier.group/run", "courier_groups"),
        ("orchestration.group/run", "orchestration_groups"),
        ("campaign.send", "campaigns"),
        ("bridge.sync", "workflows"),
        ("something.new", "workflows"),
    ],
)
def test_kind_segment(workflow_type: str, segment: str) -> None:
    """Known workflow types get their own key segment; every other type is `workflows`."""
    assert kind_segment(workflow_type) == segment


@pytest.mark.parametrize(
    ("ends", "cadence"),
    [
        ([T0, T0 + 24 * H, T0 + 48 * H], 24 * H),
        ([T0, T0 + 24 * H], None),  # one gap could be a re-run by hand
        ([T0, T0 + H, T0 + 2 * H, T0 + 3 * H, T0 + 30 * H], H),  # a missed stretch: median
        ([T0, T0, T0 + 6 * H, T0 + 12 * H], 6 * H),  # duplicates ignored
        ([], None),
    ],
)
def test_learn_cadence(ends: list[datetime], cadence: timedelta | None) -> None:
    """The cadence is the median gap between successful ends, from two gaps on."""
    assert learn_cadence(ends) == cadence


def _config(policies: list[dict[str, object]]) -> OpsConfig:
    return OpsConfig.model_validate(
        {"policies": policies, "tenants": [{"name": "acme", "tenant_id": "acme",
                                            "access_token": "t"}]})


@pytest.mark.parametrize(
    ("cadence", "policies", "fail", "warn", "source"),
    [
        (24 * H, [], 48 * H, 30 * H, "learned"),
        (H, [], 2 * H, timedelta(minutes=75), "learned"),
        (None, [], None, None, None),
        (24 * H, [{"name": "c", "match": {"name": "Daily*"}, "warn_after": "1h",
                   "fresh_within": "26h"}], 26 * H, None, "policy"),
        (24 * H, [{"name": "c", "match": {"name": "Other*"}, "warn_after": "1h",
                   "fresh_within": "26h"}], 48 * H, 30 * H, "learned"),
        (None, [{"name": "c", "match": {"type": "courier.group/run"}, "warn_after": "1h",
                 "fresh_within": "8h"}], 8 * H, None, "policy"),
    ],
)
def test_freshness_rule(
    cadence: timedelta | None,
    policies: list[dict[str, object]],
    fail: timedelta | None,
    warn: timedelta | None,
    source: str | None,
) -> None:
    """An explicit fresh_within wins; else 2x / 1.25x the learned cadence; else none."""
    workflow = CatalogWorkflow(name="Daily Sources", type="courier.group/run", cadence=cadence)
    rule = freshness_rule(workflow, _config(policies).policies)
    if source is None:
        assert rule is None
        return
    assert rule is not None
    assert (rule.fail_window, rule.warn_window, rule.source) == (fail, warn, source)
    assert rule.describe()
