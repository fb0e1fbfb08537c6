"""AmperityResource: Dagster configuration that makes no request until a client is used."""

from __future__ import annotations

import dagster as dg
import pytest

from amperity_ops.resources import AmperityResource
from amperity_ops.simulator import IN_PROCESS_BASE_URL, Simulator
from amperity_ops_tests.conftest import CLIENT_ID, CLIENT_SECRET, TENANT, TOKEN


def test_fields_are_described() -> None:
    """Every configuration field carries a description for the Dagster UI."""
    schema = AmperityResource.model_json_schema()["properties"]
    missing = [name for name, field in schema.items() if not field.get("description")]
    assert missing == []


def test_building_and_loading_make_no_request(sim: Simulator) -> None:
    """Definitions with the resource load without a single API call."""
    resource = AmperityResource(tenant_id=TENANT, base_url="http://127.0.0.1:9/api",
                                access_token=TOKEN)
    defs = dg.Definitions(resources={"amperity": resource})
    assert defs.get_repository_def() is not None
    assert sim.request_log(TENANT).total == 0


def test_env_var_secrets_resolve_and_the_client_works(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secrets given as EnvVar resolve at initialisation; get_client talks OAuth to the tenant."""
    sim.set_rate_limit(None)
    monkeypatch.setenv("TEST_AMPERITY_CLIENT_SECRET", CLIENT_SECRET)
    resource = AmperityResource(
        tenant_id=TENANT, base_url=IN_PROCESS_BASE_URL, client_id=CLIENT_ID,
        client_secret=dg.EnvVar("TEST_AMPERITY_CLIENT_SECRET"), rate_limit_rps=0,
    )
    initialised = resource.process_config_and_initialize()
    with initialised.get_client(transport=sim.transport()) as client:
        assert list(client.list_segments())
        assert CLIENT_SECRET not in repr(client)
    assert sim.request_log(TENANT).count("/api/v0/oauth2/token") == 1


def test_missing_credentials_name_the_settings() -> None:
    """A resource with no credentials fails at get_client, naming what to set."""
    resource = AmperityResource(tenant_id=TENANT)
    with pytest.raises(ValueError, match="AMPERITY_ACCESS_TOKEN"):
        resource.get_client()


def test_resolved_secrets_stay_out_of_the_resource_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    """After EnvVars resolve, neither repr nor str of the resource shows a token or secret."""
    monkeypatch.setenv("TEST_AMPERITY_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("TEST_AMPERITY_ACCESS_TOKEN", TOKEN)
    resource = AmperityResource(
        tenant_id=TENANT, client_id=CLIENT_ID,
        client_secret=dg.EnvVar("TEST_AMPERITY_CLIENT_SECRET"),
        access_token=dg.EnvVar("TEST_AMPERITY_ACCESS_TOKEN"),
    )
    initialised = resource.process_config_and_initialize()
    assert initialised.client_secret == CLIENT_SECRET  # resolved, so the check means something
    for shown in (repr(initialised), str(initialised), repr(initialised.settings())):
        assert CLIENT_SECRET not in shown
        assert TOKEN not in shown
    assert CLIENT_ID in repr(initialised)


def test_fields_are_the_connections_fields_with_its_wording() -> None:
    """The resource is a view of TenantConnection: same field names, same descriptions."""
    from amperity_ops.client import TenantConnection

    assert set(AmperityResource.model_fields) == set(TenantConnection.model_fields)
    for name, field in AmperityResource.model_fields.items():
        assert field.description == TenantConnection.model_fields[name].description, name


def test_settings_is_the_one_tenant_model_with_the_resources_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """settings() is a TenantConnection carrying every configured value; secrets stay hidden."""
    from amperity_ops.client import TenantConnection

    monkeypatch.setenv("TEST_AMPERITY_ACCESS_TOKEN", TOKEN)
    resource = AmperityResource(
        tenant_id=TENANT, name="prod", access_token=dg.EnvVar("TEST_AMPERITY_ACCESS_TOKEN"),
        app_url="https://acme.amperity.test", max_attempts=2, api_version_profile="2099-01-01",
    ).process_config_and_initialize()
    settings = resource.settings()
    assert isinstance(settings, TenantConnection)
    assert (settings.name, settings.max_attempts, settings.api_versions["profile"]) == (
        "prod", 2, "2099-01-01")
    assert settings.run_link("wf-1") == "https://acme.amperity.test/#/workflows/wf-1"
    assert settings.access_token is not None
    assert settings.access_token.reveal() == TOKEN
    assert TOKEN not in repr(settings) + settings.model_dump_json()
