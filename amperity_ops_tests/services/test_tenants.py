"""Clients built from the policy file and environment use the configured request budget."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from amperity_ops.services.tenants import make_client
from amperity_ops.settings import load_ops_config
from amperity_ops.simulator import IN_PROCESS_BASE_URL, Simulator


@pytest.mark.redis
def test_env_rate_limit_backend_reaches_the_clients_of_the_code_location(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AMPERITY_RATE_LIMIT_BACKEND=redis://... makes the tenant's client spend its Redis budget."""
    db = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    key = f"amperity-ops:rate:acme@{IN_PROCESS_BASE_URL.split('/')[2]}"
    db.delete(key)
    monkeypatch.delenv("AMPERITY_OPS_CONFIG", raising=False)
    monkeypatch.setenv("AMPERITY_TENANT_ID", "acme")
    monkeypatch.setenv("AMPERITY_BASE_URL", IN_PROCESS_BASE_URL)
    monkeypatch.setenv("AMPERITY_ACCESS_TOKEN", "test-token")
    monkeypatch.setenv("AMPERITY_RATE_LIMIT_BACKEND", "redis://127.0.0.1:6379/0")
    tenant = load_ops_config().tenants[0]
    assert tenant.rate_limit_backend == "redis://127.0.0.1:6379/0"
    try:
        with make_client(tenant, transport=sim.transport()) as client:
            list(client.list_workflow_runs(limit=5, max_items=5))
        assert db.llen(key) >= 1  # the send was logged in the shared Redis budget
    finally:
        db.delete(key)


def test_policy_file_rate_limit_backend_is_validated_per_tenant(tmp_path: Path) -> None:
    """A tenant entry may name its own budget backend; it defaults to the host-wide file."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "tenants:\n"
        "  - {tenant_id: acme, access_token: t, rate_limit_backend: memory}\n"
        "  - {tenant_id: acme-sb-1, access_token: t}\n"
    )
    tenants = load_ops_config(policy).tenants
    assert [t.rate_limit_backend for t in tenants] == ["memory", "file"]
    with make_client(tenants[0]) as client:
        assert client._limiter is not None
        assert client._limiter.window == pytest.approx(1.025)  # the default 25 ms margin


def test_tenant_error_line_scrubs_the_tenants_own_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tenant error line never shows the tenant's token, even from a variable named oddly."""
    from amperity_ops.services.tenants import describe_tenant_error
    from amperity_ops.settings import TenantConfig

    secret = "plain-looking-value-0451"
    monkeypatch.setenv("ACME_KEY", secret)  # a name the generic scrubber would not recognise
    tenant = TenantConfig.model_validate(
        {"name": "acme", "tenant_id": "acme", "access_token": {"env": "ACME_KEY"}}
    )
    line = describe_tenant_error(
        tenant, RuntimeError(f"refused {secret} at postgresql://ops:hunter22@db/ops")
    )
    assert line == "RuntimeError: refused *** at postgresql://ops:***@db/ops"


def test_for_each_tenant_reports_a_failing_tenant_in_one_scrubbed_line(sim: Simulator) -> None:
    """A refused tenant becomes one line naming the error class; the token it sent is absent."""
    from amperity_ops.services.tenants import for_each_tenant
    from amperity_ops.settings import TenantConfig

    secret = "wrong-token-never-shown-77"
    tenants = [
        TenantConfig.model_validate(
            {"name": "bad", "tenant_id": "acme", "base_url": IN_PROCESS_BASE_URL,
             "access_token": secret}
        )
    ]
    transport = sim.transport()
    results, errors = for_each_tenant(
        tenants,
        lambda _t, client: list(client.list_segments()),
        lambda t: make_client(t, transport=transport, rate_limit_rps=0),
    )
    assert results == {}
    assert errors["bad"].startswith("AuthenticationError: ")
    assert secret not in errors["bad"]
