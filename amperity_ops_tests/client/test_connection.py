"""TenantConnection: one model of a tenant, from the environment or a file, one way to a client."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import amperity_ops.settings
from amperity_ops.client import (
    AmperityClient,
    APIStatusError,
    ClientSettings,
    ConfigError,
    SecretRef,
    TenantConnection,
)
from amperity_ops.simulator import IN_PROCESS_BASE_URL, Faults, Simulator
from amperity_ops_tests.conftest import CLIENT_ID, CLIENT_SECRET, TENANT, TOKEN

ENV = {
    "AMPERITY_TENANT_ID": TENANT,
    "AMPERITY_BASE_URL": IN_PROCESS_BASE_URL,
    "AMPERITY_ACCESS_TOKEN": TOKEN,
}


def test_from_env_reads_every_amperity_variable_and_keeps_secrets_as_references() -> None:
    """Each field x comes from AMPERITY_X; credentials stay {env: NAME}; empty means unset."""
    env = {
        **ENV,
        "AMPERITY_APP_URL": "https://acme.amperity.test",
        "AMPERITY_TOKEN_URL": "https://auth.test/token",
        "AMPERITY_RATE_LIMIT_RPS": "0",
        "AMPERITY_RATE_LIMIT_BACKEND": "memory",
        "AMPERITY_RATE_LIMIT_MARGIN_MS": "100",
        "AMPERITY_TIMEOUT_SECONDS": "5",
        "AMPERITY_MAX_ATTEMPTS": "2",
        "AMPERITY_MAX_RETRY_SECONDS": "9",
        "AMPERITY_API_VERSION_PROFILE": "2099-01-01",
        "AMPERITY_CLIENT_ID": "",
    }
    conn = TenantConnection.from_env(env)
    assert (conn.name, conn.tenant_id, conn.base_url) == (TENANT, TENANT, IN_PROCESS_BASE_URL)
    assert conn.access_token == SecretRef(env="AMPERITY_ACCESS_TOKEN")
    assert conn.client_id is None
    assert (conn.app_url, conn.token_url) == ("https://acme.amperity.test", "https://auth.test/token")
    assert (conn.rate_limit_rps, conn.rate_limit_backend, conn.rate_limit_margin_ms) == (
        0, "memory", 100)
    assert (conn.timeout_seconds, conn.max_attempts, conn.max_retry_seconds) == (5, 2, 9)
    assert conn.api_versions["profile"] == "2099-01-01"
    assert conn.run_link("wf-1") == "https://acme.amperity.test/#/workflows/wf-1"
    assert TOKEN not in repr(conn)


def test_amperity_tenant_is_read_when_amperity_tenant_id_is_not_set() -> None:
    """AMPERITY_TENANT names the tenant too (AMPERITY_TENANT_ID wins when both are set)."""
    env = {k: v for k, v in ENV.items() if k != "AMPERITY_TENANT_ID"}
    assert TenantConnection.from_env({**env, "AMPERITY_TENANT": "other"}).tenant_id == "other"
    both = {**ENV, "AMPERITY_TENANT": "other"}
    assert TenantConnection.from_env(both).tenant_id == TENANT


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AMPERITY_TENANT_ID": TENANT},
         "no credentials: set AMPERITY_ACCESS_TOKEN, or both AMPERITY_CLIENT_ID and "
         "AMPERITY_CLIENT_SECRET"),
        ({**ENV, "AMPERITY_CLIENT_ID": CLIENT_ID},
         "OAuth needs both client id and secret: AMPERITY_CLIENT_SECRET is not set"),
        ({**ENV, "AMPERITY_CLIENT_SECRET": CLIENT_SECRET},
         "OAuth needs both client id and secret: AMPERITY_CLIENT_ID is not set"),
        ({**ENV, "AMPERITY_RATE_LIMIT_MARGIN_MS": "5000"}, "rate_limit_margin_ms"),
        ({"AMPERITY_ACCESS_TOKEN": TOKEN}, "tenant_id"),
    ],
)
def test_environment_errors_name_the_variable(env: dict[str, str], message: str) -> None:
    """A missing or half-given credential in the environment is named by its variable."""
    with pytest.raises(ValidationError, match=message):
        TenantConnection.from_env(env)


def test_file_style_errors_name_the_fields_and_never_echo_a_secret() -> None:
    """Validated as data (a policy file), errors name fields, and no literal secret is shown."""
    with pytest.raises(ValidationError) as info:
        TenantConnection.model_validate({"tenant_id": TENANT, "client_secret": "s3cr3t-value"})
    assert "give access_token, or client_id and client_secret" in str(info.value)
    assert "s3cr3t-value" not in str(info.value)
    with pytest.raises(ValidationError, match="client_id is not set"):
        TenantConnection.model_validate(
            {"tenant_id": TENANT, "access_token": "t", "client_secret": "s3cr3t-value"}
        )
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        TenantConnection.model_validate({"tenant_id": TENANT, "access_token": "t", "acces": 1})


def test_client_reveals_secrets_from_the_environment_and_talks_to_the_tenant(
    sim: Simulator,
) -> None:
    """client() reads {env: NAME} at that moment only; OAuth works end to end."""
    sim.set_rate_limit(None)
    conn = TenantConnection.model_validate({
        "tenant_id": TENANT, "base_url": IN_PROCESS_BASE_URL, "rate_limit_rps": 0,
        "client_id": {"env": "X_ID"}, "client_secret": {"env": "X_SECRET"},
    })
    with pytest.raises(ConfigError, match="X_ID is not set"):
        conn.client(environ={})
    environ = {"X_ID": CLIENT_ID, "X_SECRET": CLIENT_SECRET}
    with conn.client(environ=environ, transport=sim.transport()) as client:
        assert list(client.list_segments())
        assert CLIENT_SECRET not in repr(client)
    assert sim.request_log(TENANT).count("/api/v0/oauth2/token") == 1


def test_an_overridden_secret_need_not_be_set(sim: Simulator) -> None:
    """A credential given as an override wins, and the configured one is not read at all."""
    conn = TenantConnection.model_validate(
        {"tenant_id": TENANT, "base_url": IN_PROCESS_BASE_URL, "access_token": {"env": "UNSET_X"}}
    )
    with conn.client(environ={}, access_token=TOKEN, transport=sim.transport()) as client:
        assert list(client.list_segments())


def test_retry_and_budget_settings_reach_the_client(sim: Simulator) -> None:
    """max_attempts bounds the attempts actually sent; the margin widens the budget window."""
    sim.set_rate_limit(None)
    sim.set_faults(TENANT, Faults(server_errors=5))
    conn = TenantConnection.from_env(
        {**ENV, "AMPERITY_MAX_ATTEMPTS": "2", "AMPERITY_RATE_LIMIT_BACKEND": "memory",
         "AMPERITY_RATE_LIMIT_MARGIN_MS": "100"}
    )
    client = conn.client(environ=ENV, transport=sim.transport(), sleep=lambda _s: None)
    with client, pytest.raises(APIStatusError):
        list(client.list_segments())
    assert sim.request_log(TENANT).count(status=500) == 2
    assert client._limiter is not None
    assert client._limiter.window == pytest.approx(1.1)


def test_from_settings_and_from_env_go_through_the_one_model(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ClientSettings is TenantConnection filled from AMPERITY_* as before; both build clients."""
    assert issubclass(ClientSettings, TenantConnection)
    assert set(ClientSettings.model_fields) == set(TenantConnection.model_fields)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert ClientSettings().tenant_id == TenantConnection.from_env().tenant_id
    monkeypatch.setenv("AMPERITY_API_VERSION_UNSTABLE", "unstable-2")
    with AmperityClient.from_env(transport=sim.transport()) as client:
        assert client.api_versions["unstable"] == "unstable-2"
    settings = ClientSettings(tenant_id=TENANT, base_url=IN_PROCESS_BASE_URL, access_token=TOKEN)
    with AmperityClient.from_settings(settings, transport=sim.transport()) as client:
        assert list(client.list_segments())


def test_settings_module_shares_the_secret_and_error_classes() -> None:
    """amperity_ops.settings.SecretRef and ConfigError are the client package's classes."""
    assert amperity_ops.settings.SecretRef is SecretRef
    assert amperity_ops.settings.ConfigError is ConfigError
    with pytest.raises(amperity_ops.settings.ConfigError, match="NOPE_UNSET is not set"):
        SecretRef(env="NOPE_UNSET").reveal({})
