"""The policy file: the documented shape loads; every mistake names file, field and problem."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from amperity_ops.settings import (
    ConfigError,
    OpsConfig,
    OpsSettings,
    SecretRef,
    default_store_url,
    load_ops_config,
    sink_ids,
)

ISSUE_EXAMPLE = """
policies:                      # first match wins
  - name: courier-groups
    match: {name: "Courier Group*", type: "courier.group/run"}
    warn_after: 90m
    max_runtime: 2h
    action: stop
auto_stop: {enabled: true, dry_run: false, max_stops_per_hour: 5}
alerts:
  - {kind: webhook, url: "https://example.test/hook"}
  - {kind: slack, webhook_url: {env: SLACK_WEBHOOK_URL}}
  - {kind: pagerduty, routing_key: {env: PAGERDUTY_ROUTING_KEY}}
  - {kind: teams, webhook_url: {env: TEAMS_URL}}
  - {kind: log}
tenants:
  - name: prod
    tenant_id: acme
    access_token: {env: ACME_TOKEN}
    app_url: "https://acme.amperity.com"
  - tenant_id: acme-sb-1
    client_id: {env: SB_ID}
    client_secret: {env: SB_SECRET}
    rate_limit_rps: 2
ingest_thresholds: {max_error_rate: 0.02, max_reject_rate: 0.1}
baseline: {enabled: true, percentile: p90, factor: 2, min_samples: 3}
sensor: {interval: 45s, time_budget: 20s}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_issue_example_loads(tmp_path: Path) -> None:
    """The shape from issue 4 loads with durations, sinks, tenants and all sections parsed."""
    cfg = load_ops_config(write(tmp_path, ISSUE_EXAMPLE))
    policy = cfg.policies[0]
    assert (policy.warn_after, policy.max_runtime, policy.action) == (
        timedelta(minutes=90), timedelta(hours=2), "stop")
    assert policy.match.matches("Courier Group Nightly", "courier.group/run")
    assert not policy.match.matches("Courier Group Nightly", "orchestration/run")
    assert cfg.auto_stop.enabled
    assert cfg.auto_stop.max_stops_per_hour == 5
    assert [s.kind for s in cfg.alerts] == ["webhook", "slack", "pagerduty", "teams", "log"]
    assert [t.name for t in cfg.tenants] == ["prod", "acme-sb-1"]
    assert cfg.tenants[1].rate_limit_rps == 2
    assert cfg.tenant("acme").run_link("wf-1") == "https://acme.amperity.com/#/workflows/wf-1"
    assert cfg.baseline.percentile == 90
    assert cfg.baseline.factor == 2
    assert cfg.sensor.interval == timedelta(seconds=45)
    assert cfg.ingest_thresholds.max_reject_rate == 0.1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "policies: [{name: a, warn_afer: 3h}]",
            "policies[0].warn_afer: unknown key (did you mean 'warn_after'?)",
        ),
        ("policies: [{name: a, warn_after: 9x}]", "policies[0].warn_after: expected a duration"),
        (
            "policies: [{name: a, warn_after: 2h, max_runtime: 1h}]",
            "policies[0]: warn_after must be shorter",
        ),
        (
            "policies: [{name: a, warn_after: 2h, action: stop}]",
            "policies[0]: action: stop needs max_runtime",
        ),
        (
            "policies: [{name: a, max_runtime: 2h, action: kill}]",
            "policies[0].action: Input should be 'alert' or 'stop'",
        ),
        ("alerts: [{kind: sms}]", "alerts[0]: unknown kind"),
        (
            "alerts: [{kind: slack, webhook_url: {env: X}, channel: ops}]",
            "alerts[0].channel: unknown key",
        ),
        ("alerts: [{kind: slack}]", "alerts[0].webhook_url: Field required"),
        (
            "auto_stop: {max_stops_per_hour: -1}",
            "auto_stop.max_stops_per_hour: Input should be greater",
        ),
        (
            "tenants: [{tenant_id: x}]",
            "tenants[0]: give access_token, or client_id and client_secret",
        ),
        ("tenants: []", "tenants: the list is empty"),
        ("sensor: {time_budget: 2m}", "sensor: time_budget must stay well inside"),
        ("sensor: {time_budget: 45s}", "(at most 40s: alert delivery and one slow request"),
        ("sensor: {interval: 2s}", "sensor: interval must be at least 5s"),
        (
            "baseline: {percentile: p150}",
            "baseline.percentile: Input should be less than or equal to 100",
        ),
        ("polices: []", "polices: unknown key (did you mean 'policies'?)"),
        ("- just a list", "the top level must be a mapping"),
        ("policies: [unclosed", "YAML syntax error"),
    ],
)
def test_errors_name_file_field_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    """Each mistake is a ConfigError naming the file, the dotted field path and the problem."""
    body = text if "tenants" in text else text + "\ntenants: [{tenant_id: t, access_token: x}]"
    if text.startswith("-"):
        body = text
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_ops_config(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "Traceback" not in message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A policy file path that does not exist says so, naming the path."""
    with pytest.raises(ConfigError, match="policy file not found"):
        load_ops_config(tmp_path / "nope.yaml")


def test_secrets_are_lazy_and_never_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SecretRef resolves at use; repr and dumps show the env name, never the value."""
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.test/T000/SECRETPART")
    cfg = load_ops_config(write(tmp_path, ISSUE_EXAMPLE))
    slack = cfg.alerts[1]
    assert slack.webhook_url.reveal() == "https://hooks.slack.test/T000/SECRETPART"  # type: ignore[union-attr]
    literal = cfg.alerts[0].url  # type: ignore[union-attr]
    for text in (repr(cfg), str(cfg), cfg.model_dump_json(), repr(slack)):
        assert "SECRETPART" not in text
        assert "example.test/hook" not in text
    assert "SLACK_WEBHOOK_URL" in repr(slack)
    assert literal.reveal() == "https://example.test/hook"
    monkeypatch.delenv("PAGERDUTY_ROUTING_KEY", raising=False)
    with pytest.raises(ConfigError, match="PAGERDUTY_ROUTING_KEY is not set"):
        cfg.alerts[2].routing_key.reveal()  # type: ignore[union-attr]


def test_bad_secret_value_never_echoed(tmp_path: Path) -> None:
    """A validation error near a literal secret does not print the secret."""
    text = "tenants: [{tenant_id: t, access_token: s3cr3t-value, rate_limit_rps: 0}]"
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_ops_config(path)
    assert "tenants[0].rate_limit_rps" in str(info.value)
    assert "s3cr3t-value" not in str(info.value)


def test_tenant_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a tenants list, one tenant comes from AMPERITY_* variables, secrets as references."""
    monkeypatch.delenv("AMPERITY_OPS_CONFIG", raising=False)
    monkeypatch.setenv("AMPERITY_TENANT_ID", "acme")
    monkeypatch.setenv("AMPERITY_ACCESS_TOKEN", "tok-value")
    monkeypatch.setenv("AMPERITY_BASE_URL", "http://127.0.0.1:9/api")
    cfg = load_ops_config()
    (tenant,) = cfg.tenants
    assert (tenant.name, tenant.tenant_id, tenant.base_url) == ("acme", "acme", "http://127.0.0.1:9/api")
    assert tenant.access_token == SecretRef(env="AMPERITY_ACCESS_TOKEN")
    assert "tok-value" not in repr(cfg)


def test_no_tenant_anywhere_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No tenants list and no AMPERITY_TENANT_ID: the error says how to fix it."""
    for var in ("AMPERITY_OPS_CONFIG", "AMPERITY_TENANT_ID", "AMPERITY_TENANT"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError, match="AMPERITY_TENANT_ID"):
        load_ops_config()


def test_sink_ids_are_unique_and_stable() -> None:
    """Sinks are named by name or kind, numbered when a kind repeats."""
    cfg = OpsConfig.model_validate({
        "alerts": [
            {"kind": "log"},
            {"kind": "log"},
            {"kind": "slack", "name": "ops", "webhook_url": "x"},
        ],
        "tenants": [{"tenant_id": "t", "access_token": "x"}],
    })
    assert sink_ids(cfg.alerts) == ["log", "log-2", "ops"]


def test_store_url_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The store defaults to SQLite under DAGSTER_HOME, else under home; the env overrides."""
    expected = f"sqlite:///{tmp_path}/amperity_ops.sqlite"
    assert default_store_url({"DAGSTER_HOME": str(tmp_path)}) == expected
    assert default_store_url({}).endswith("/.amperity_ops/amperity_ops.sqlite")
    monkeypatch.setenv("AMPERITY_OPS_STORE_URL", "postgresql+psycopg2://u@h/db")
    monkeypatch.setenv("AMPERITY_OPS_CONFIG", str(tmp_path / "p.yaml"))
    settings = OpsSettings()
    assert settings.store_url == "postgresql+psycopg2://u@h/db"
    assert settings.config_path == tmp_path / "p.yaml"


def test_empty_environment_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """AMPERITY_OPS_CONFIG='' and AMPERITY_OPS_STORE_URL='' mean the defaults, not '.'."""
    monkeypatch.setenv("AMPERITY_OPS_CONFIG", "")
    monkeypatch.setenv("AMPERITY_OPS_STORE_URL", " ")
    monkeypatch.setenv("DAGSTER_HOME", "/tmp/dh")
    settings = OpsSettings()
    assert settings.config_path is None
    assert settings.store_url == "sqlite:////tmp/dh/amperity_ops.sqlite"


def test_rate_limit_backend_url_password_never_printed() -> None:
    """A budget backend URL with a password does not appear in a tenant's repr or str."""
    from amperity_ops.settings import TenantConfig

    tenant = TenantConfig(tenant_id="a", access_token="x",
                          rate_limit_backend="postgresql://u:hunter2@db/rl")
    assert tenant.rate_limit_backend.endswith("@db/rl")
    assert "hunter2" not in repr(tenant)
    assert "hunter2" not in str(tenant)


def test_tenant_lookup_is_one_and_unknown_names_list_the_known_ones(tmp_path: Path) -> None:
    """cfg.tenant: by name or id, None is the first; unknown is a KeyError and a ValueError."""
    from amperity_ops.settings import UnknownTenantError

    cfg = load_ops_config(write(tmp_path, ISSUE_EXAMPLE))
    assert cfg.tenant(None).name == "prod"
    assert cfg.tenant("acme-sb-1").tenant_id == "acme-sb-1"
    with pytest.raises(UnknownTenantError) as info:
        cfg.tenant("x")
    assert str(info.value) == "tenant: no tenant named 'x' (known: prod, acme-sb-1)"
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, ValueError)


def test_environment_tenant_is_the_one_connection_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a tenants list the tenant reads every AMPERITY_* field, and still needs a budget."""
    from amperity_ops.client import TenantConnection

    monkeypatch.delenv("AMPERITY_OPS_CONFIG", raising=False)
    monkeypatch.setenv("AMPERITY_TENANT_ID", "acme")
    monkeypatch.setenv("AMPERITY_ACCESS_TOKEN", "tok-value")
    monkeypatch.setenv("AMPERITY_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("AMPERITY_APP_URL", "https://acme.amperity.test")
    (tenant,) = load_ops_config().tenants
    assert isinstance(tenant, TenantConnection)
    assert (tenant.max_attempts, tenant.app_url) == (2, "https://acme.amperity.test")
    monkeypatch.setenv("AMPERITY_RATE_LIMIT_RPS", "0")
    with pytest.raises(ConfigError, match=r"tenants\[0\].rate_limit_rps"):
        load_ops_config()


def test_a_given_tenant_replaces_the_environment_but_not_a_tenants_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_ops_config(tenant=...) is the one tenant without a list; beside a list it is refused."""
    from amperity_ops.client import TenantConnection

    monkeypatch.delenv("AMPERITY_OPS_CONFIG", raising=False)
    monkeypatch.setenv("AMPERITY_TENANT_ID", "from-env")
    given = TenantConnection(tenant_id="given", access_token="literal-secret-1")
    (tenant,) = load_ops_config(write(tmp_path, "policies: []"), tenant=given).tenants
    assert (tenant.name, tenant.tenant_id) == ("given", "given")
    assert tenant.access_token is not None
    assert tenant.access_token.reveal() == "literal-secret-1"
    with pytest.raises(ConfigError, match="tenants: the file lists tenants") as info:
        load_ops_config(write(tmp_path, ISSUE_EXAMPLE), tenant=given)
    assert "literal-secret-1" not in str(info.value)
