"""Alert rules: which sinks get which alert (a table), and rules that name unknown sinks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from amperity_ops.core import AlertLevel, AlertMessage
from amperity_ops.monitoring.routing import route_alert
from amperity_ops.settings import ConfigError, OpsConfig, load_ops_config

T0 = datetime(2025, 3, 29, 12, 0, tzinfo=UTC)
SINKS = [{"kind": "pagerduty", "routing_key": "k"}, {"kind": "slack", "webhook_url": "u"},
         {"kind": "log"}]
TENANTS = [{"name": n, "tenant_id": n, "access_token": "t"} for n in ("prod", "sandbox-1")]

RULES: list[dict[str, Any]] = [
    {"name": "prod-pages", "match": {"tenant": "prod", "level": ["breached", "failed"]},
     "sinks": ["pagerduty"], "continue": True},
    {"name": "platform", "match": {"attribution": "platform"}, "sinks": ["log"]},
    {"name": "prod-chat", "match": {"tenant": "prod"}, "sinks": ["slack"]},
    {"name": "sandbox", "match": {"tenant": "sandbox*", "kind": ["sla", "failure"]},
     "sinks": ["slack"]},
    {"name": "nightly-type", "match": {"workflow": "Nightly*", "workflow_type": "campaign.*"},
     "sinks": []},
]


def alert(tenant: str = "prod", level: AlertLevel = AlertLevel.WARNING, *, kind: str = "sla",
          name: str = "Courier Group A", type_: str | None = "courier.group/run",
          attribution: str | None = None) -> AlertMessage:
    return AlertMessage(tenant=tenant, workflow_id="wf-1", workflow_name=name, level=level,
                        title="t", text="t", dedup_key=f"amperity-ops:{tenant}:wf-1",
                        raised_at=T0, kind=kind, workflow_type=type_, attribution=attribution)


def config(**extra: Any) -> OpsConfig:
    return OpsConfig.model_validate({"alerts": SINKS, "tenants": TENANTS, **extra})


@pytest.mark.parametrize(("message", "expected"), [
    (alert(level=AlertLevel.BREACHED), [("pagerduty", "prod-pages"), ("slack", "prod-chat")]),
    (alert(level=AlertLevel.WARNING), [("slack", "prod-chat")]),
    (alert(level=AlertLevel.RESOLVED, kind="failure", attribution="platform"),
     [("pagerduty", "prod-pages"), ("log", "platform")]),
    (alert(level=AlertLevel.RESOLVED, kind="failure", attribution="customer"),
     [("pagerduty", "prod-pages"), ("slack", "prod-chat")]),
    (alert("sandbox-1", AlertLevel.BREACHED), [("slack", "sandbox")]),
    (alert("sandbox-1", AlertLevel.INGEST, kind="ingest", type_=None),
     [("pagerduty", "default"), ("slack", "default"), ("log", "default")]),
    (alert("other", name="Nightly Send", type_="campaign.send"), []),
    (alert("other", name="Nightly Send", type_="courier.group/run"),
     [("pagerduty", "default"), ("slack", "default"), ("log", "default")]),
])
def test_rules_route_each_alert(message: AlertMessage, expected: list[tuple[str, str]]) -> None:
    """First match decides unless it says continue; unmatched alerts go to the default."""
    cfg = config(alert_rules=RULES)
    routes = route_alert(message, rules=cfg.alert_rules, all_sinks=["pagerduty", "slack", "log"],
                         default_sinks=cfg.default_sinks)
    assert [(r.sink, r.rule) for r in routes] == expected


def test_without_rules_every_alert_goes_to_every_sink_and_default_sinks_narrow_it() -> None:
    """No rules behaves as before rules existed; ``default_sinks`` changes only unmatched ones."""
    everything = route_alert(alert(), rules=[], all_sinks=["a", "b"], default_sinks=None)
    assert [r.sink for r in everything] == ["a", "b"]
    cfg = config(alert_rules=RULES[:1], default_sinks=["log"])
    routes = route_alert(alert(), rules=cfg.alert_rules, all_sinks=["pagerduty", "slack", "log"],
                         default_sinks=cfg.default_sinks)
    assert [(r.sink, r.rule) for r in routes] == [("log", "default")]


@pytest.mark.parametrize(("extra", "error"), [
    ({"alert_rules": [{"sinks": ["slack"]}, {"sinks": ["pagerdty"]}]},
     "policy.yaml: alert_rules[1].sinks[0]: unknown sink 'pagerdty' (did you mean 'pagerduty'?)"),
    ({"default_sinks": ["nowhere"]},
     "policy.yaml: default_sinks[0]: unknown sink 'nowhere' (known: pagerduty, slack, log)"),
    ({"quiet_hours": [{"sinks": ["slak"], "start": "22:00", "end": "07:00"}]},
     "policy.yaml: quiet_hours[0].sinks[0]: unknown sink 'slak' (did you mean 'slack'?)"),
    ({"digest": {"sinks": ["pagerduty"]}},
     "policy.yaml: digest.sinks[0]: 'pagerduty' is a PagerDuty sink"),
    ({"alert_rules": [{"sinks": ["slack"], "match": {"level": "breachd"}}]},
     "policy.yaml: alert_rules[0].match.level[0]: Input should be 'warning'"),
    ({"quiet_hours": [{"sinks": ["slack"], "start": "22:00", "end": "07:00",
                       "time_zone": "Mars/Olympus"}]},
     "policy.yaml: quiet_hours[0].time_zone: unknown time zone 'Mars/Olympus'"),
    ({"alert_rules": [{"sinks": ["slack"], "contine": True}]},
     "policy.yaml: alert_rules[0].contine: unknown key (did you mean 'continue"),
])
def test_bad_rules_stop_at_load_naming_the_field(tmp_path: Path, extra: dict[str, Any],
                                                 error: str) -> None:
    """A rule naming an unknown sink (or a bad level, zone, key) fails at load, naming the field."""
    import yaml

    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"alerts": SINKS, "tenants": TENANTS, **extra}))
    with pytest.raises(ConfigError) as caught:
        load_ops_config(path)
    assert str(caught.value).replace(str(tmp_path) + "/", "").startswith(error)


def test_rules_in_yaml_with_one_value_or_a_list(tmp_path: Path) -> None:
    """``tenant: prod`` reads as ``[prod]``; unquoted 22:00 (YAML base 60) still reads as 22:00."""
    path = tmp_path / "policy.yaml"
    path.write_text(
        "alerts: [{kind: log}]\n"
        "tenants: [{name: prod, tenant_id: prod, access_token: t}]\n"
        "alert_rules:\n  - {match: {tenant: prod, level: breached}, sinks: log, continue: true}\n"
        "quiet_hours:\n  - {sinks: [log], start: 22:00, end: 07:00, time_zone: Europe/Berlin}\n"
    )
    cfg = load_ops_config(path)
    assert cfg.alert_rules[0].match.tenant == ["prod"]
    assert cfg.alert_rules[0].continue_ is True
    assert (cfg.quiet_hours[0].start.hour, cfg.quiet_hours[0].end.hour) == (22, 7)
