"""``dg scaffold defs amperity_ops.AmperityTenantComponent <name>``: a defs.yaml to start from.

Secrets are written as ``{{ env.NAME }}`` placeholders, never as values; the file explains each
section in comments (the policy file's schema, docs/monitoring.md).
"""

from __future__ import annotations

from dagster.components import Scaffolder, ScaffoldRequest, scaffold_component
from pydantic import BaseModel, Field

__all__ = ["AmperityScaffoldParams", "AmperityTenantScaffolder", "defs_yaml"]


class AmperityScaffoldParams(BaseModel):
    """What ``dg scaffold defs ... --tenant-id acme --name prod`` may fill in."""

    tenant_id: str | None = Field(default=None, description="The Amperity tenant id.")
    name: str | None = Field(default=None, description="A short name for the tenant.")
    env_prefix: str = Field(default="AMPERITY", description="Prefix of the env variables.")


def defs_yaml(type_name: str, params: AmperityScaffoldParams) -> str:
    """The scaffolded ``defs.yaml``: tenant from env placeholders, a commented example policy."""
    env = params.env_prefix
    tenant_id = params.tenant_id or f"{{{{ env.{env}_TENANT_ID }}}}"
    name = params.name or "prod"
    return f"""\
type: {type_name}

attributes:
  # The connection: one entry of a policy file's `tenants:` list. Secrets come from the
  # environment when the code location loads ({{{{ env.X }}}}); {{env: X}} reads them later.
  tenant:
    name: {name}
    tenant_id: "{tenant_id}"
    base_url: "{{{{ env.{env}_BASE_URL }}}}"         # unset: the production API
    access_token: "{{{{ env.{env}_ACCESS_TOKEN }}}}"  # or client_id + client_secret (OAuth)
    rate_limit_rps: 10                               # this tenant's request budget

  # The policy, as in a policy file (docs/monitoring.md): first matching policy wins.
  policies:
    - name: courier-groups
      match: {{name: "*", type: "courier.group/run"}}
      warn_after: 90m
      max_runtime: 3h
      action: alert                                  # alert | stop (with auto_stop.enabled)
  auto_stop: {{enabled: false, dry_run: true, max_stops_per_hour: 5}}
  alerts:
    - {{kind: log}}

  # Workflows Dagster may start (materializing the asset starts the workflow):
  # workflow name -> config_id. Terminating the Dagster run stops the Amperity run.
  startable: {{}}
  start: {{stop_on_terminate: true, timeout: 6h, poll_interval: 30s}}

  # Profile indexes: freshness of updated_at, and canary lookups that must find a profile.
  indexes:
    fresh_within: 30h
    canaries: []
    # - {{name: test-customer, index: loyalty_members, filter: {{loyalty_id: "123456789-0"}}}}

  catalog_days: 14      # `dg utils refresh-defs-state` learns workflows and tables from these days
  # name_suffix: ""     # default `_<tenant name>` on sensor, job and op names
"""


class AmperityTenantScaffolder(Scaffolder[AmperityScaffoldParams]):
    """Writes a commented defs.yaml (or the Python form, from the same attributes)."""

    @classmethod
    def get_scaffold_params(cls) -> type[AmperityScaffoldParams]:
        return AmperityScaffoldParams

    def scaffold(self, request: ScaffoldRequest[AmperityScaffoldParams]) -> None:
        params = request.params or AmperityScaffoldParams()
        if request.scaffold_format != "yaml" or request.append:
            env = params.env_prefix
            scaffold_component(request, {"tenant": {
                "name": params.name or "prod",
                "tenant_id": params.tenant_id or f"{{{{ env.{env}_TENANT_ID }}}}",
                "access_token": f"{{{{ env.{env}_ACCESS_TOKEN }}}}",
            }})
            return
        request.target_path.mkdir(parents=True, exist_ok=True)
        (request.target_path / "defs.yaml").write_text(
            defs_yaml(request.type_name, params), encoding="utf-8")
