"""``AmperityTenantComponent``: one Amperity tenant in a Dagster project, scaffolded with ``dg``.

::

    dg scaffold defs amperity_ops.AmperityTenantComponent amperity_prod
    dg utils refresh-defs-state        # learns the tenant's catalog and indexes (API calls)
    dg check defs && dg list defs      # loading never calls the API

The ``attributes`` of its ``defs.yaml`` are the policy file's sections (``policies``,
``auto_stop``, ``alerts``, ``delivery``, ``ingest_thresholds``, ``baseline``, ``sensor``,
``indexes``, ``startable``, ``start``: the same schema, validated by
:class:`~amperity_ops.settings.OpsConfig`, so they can be moved to a policy file and back) plus
``tenant`` (one entry of the file's ``tenants:``; secrets as ``"{{ env.NAME }}"`` or
``{env: NAME}``), ``translation``, ``catalog_days``, ``store_url``, ``name_suffix`` and
``defs_state``. Two instances are two tenants side by side, each with its own client, budget
and suffixed names.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from dagster import Definitions
from dagster.components import (
    ComponentLoadContext,
    DefsStateConfig,
    DefsStateConfigArgs,
    Model,
    Resolvable,
    StateBackedComponent,
    scaffold_with,
)
from dagster.components.utils.translation import TranslationFn, TranslationFnResolver
from dagster_shared.serdes.objects.models.defs_state_info import DefsStateManagementType
from pydantic import Field, PrivateAttr, ValidationError, model_validator

from amperity_ops.components.scaffolder import AmperityTenantScaffolder
from amperity_ops.components.state import learn_state, read_state, write_state
from amperity_ops.components.translation import TranslationFnTranslator
from amperity_ops.defs.factory import build_amperity_defs
from amperity_ops.defs.inline_runtime import open_runtime
from amperity_ops.monitoring.catalog import slugify
from amperity_ops.settings import ConfigError, OpsConfig, format_validation_error

__all__ = ["POLICY_SECTIONS", "AmperityTenantComponent"]

POLICY_SECTIONS = ("policies", "auto_stop", "alerts", "delivery", "ingest_thresholds",
                   "baseline", "sensor", "indexes", "startable", "start")
"""The attributes that are the policy file's sections (``OpsConfig`` validates them)."""
_SOURCE = "defs.yaml attributes"
log = logging.getLogger(__name__)

_Section = dict[str, Any] | None


@scaffold_with(AmperityTenantScaffolder)
class AmperityTenantComponent(StateBackedComponent, Model, Resolvable):
    """One Amperity tenant: its workflows, tables and profile indexes as assets, the SLA sensor,
    the stop job and startable workflows, from a policy written in ``defs.yaml``."""

    tenant: dict[str, Any] = Field(
        description="The tenant, as one entry of the policy file's `tenants:` list: "
        "tenant_id, name, base_url, access_token or client_id + client_secret (as "
        "'{{ env.NAME }}' or {env: NAME}), app_url, rate_limit_rps, rate_limit_backend ...",
        examples=[{"name": "prod", "tenant_id": "acme",
                   "client_id": "{{ env.AMPERITY_CLIENT_ID }}",
                   "client_secret": "{{ env.AMPERITY_CLIENT_SECRET }}"}],
    )
    policies: list[dict[str, Any]] = Field(
        default_factory=list, description="SLA policies (the policy file's `policies:`).")
    auto_stop: _Section = Field(default=None, description="enabled, dry_run, max_stops_per_hour.")
    alerts: list[dict[str, Any]] = Field(
        default_factory=list, description="Alert sinks (webhook, slack, pagerduty, teams, log).")
    delivery: _Section = Field(default=None, description="Outbox retry timing.")
    ingest_thresholds: _Section = Field(default=None, description="Ingest error/reject rates.")
    baseline: _Section = Field(default=None, description="The learned warning line.")
    sensor: _Section = Field(default=None, description="interval, time_budget.")
    indexes: _Section = Field(
        default=None, description="Profile indexes: enabled, fresh_within, check_interval, "
        "canaries [{name, index, filter: {attribute: value}}].")
    startable: dict[str, str] = Field(
        default_factory=dict, description="Workflow name -> config_id: these workflow assets "
        "can be materialized (starts the workflow and waits for its end).")
    start: _Section = Field(
        default=None, description="stop_on_terminate (default true), timeout, poll_interval.")
    translation: Annotated[
        TranslationFn[Mapping[str, Any]] | None,
        TranslationFnResolver(template_vars_for_translation_fn=lambda unit: {"unit": unit}),
    ] = None
    catalog_days: int = Field(
        default=14, ge=1, le=90,
        description="How many days of runs and ingest jobs the state refresh learns from.")
    store_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the history store; empty: "
        "$AMPERITY_OPS_STORE_URL, else a SQLite file under $DAGSTER_HOME.")
    name_suffix: str | None = Field(
        default=None, description="Appended to sensor, job and op names and the resource key; "
        "default `_<tenant name>`. Set '' for the plain names (one instance only).")
    defs_state: DefsStateConfigArgs = Field(
        default_factory=lambda: DefsStateConfigArgs(
            management_type=DefsStateManagementType.LOCAL_FILESYSTEM, refresh_if_dev=False),
        description="Where the refreshed catalog is kept (`dg utils refresh-defs-state`). "
        "refresh_if_dev is off by default: loading (dg check, dg list, dagster dev) never "
        "calls the Amperity API; refresh explicitly.")

    _ops_config: OpsConfig | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _policy_is_valid(self) -> AmperityTenantComponent:
        """Validate the policy once, at load: a typo stops here, naming the field."""
        data: dict[str, Any] = {
            name: getattr(self, name) for name in POLICY_SECTIONS
            if getattr(self, name) not in (None, [], {})
        }
        data["tenants"] = [self.tenant]
        try:
            self._ops_config = OpsConfig.model_validate(data)
        except ValidationError as err:
            raise ConfigError(format_validation_error(_SOURCE, err)) from None
        return self

    @property
    def ops_config(self) -> OpsConfig:
        """The policy these attributes describe (one tenant)."""
        assert self._ops_config is not None  # set by the validator
        return self._ops_config

    @property
    def tenant_name(self) -> str:
        """The tenant's name (its ``name``, else its tenant id)."""
        return self.ops_config.tenants[0].name

    @property
    def effective_suffix(self) -> str:
        """``name_suffix``, or ``_<tenant>`` when not set."""
        if self.name_suffix is not None:
            return self.name_suffix
        return f"_{slugify(self.tenant_name)}"

    @property
    def defs_state_config(self) -> DefsStateConfig:
        """One state per tenant: the key names it."""
        return DefsStateConfig.from_args(
            self.defs_state, default_key=f"AmperityTenantComponent[{self.tenant_name}]")

    def write_state_to_path(self, state_path: Path) -> None:
        """Learn the catalog and the indexes (API calls, in the tenant's budget) and store them."""
        runtime = open_runtime(self.ops_config, self.store_url)
        try:
            state = learn_state(runtime, tenant=self.tenant_name, days=self.catalog_days,
                                previous=read_state(state_path))
        finally:
            runtime.close()
        write_state(state, state_path)

    def build_defs_from_state(
        self, context: ComponentLoadContext, state_path: Path | None
    ) -> Definitions:
        """The tenant's definitions, built by ``build_amperity_defs`` from the stored state.

        Loading makes no API call. No state yet: the overview assets, sensors and jobs, the
        startable workflows and canary indexes; the log says how to refresh.
        """
        state = read_state(state_path)
        if state is None:
            log.warning(
                "Amperity tenant %s: no catalog yet, so its workflows and tables are not assets "
                "yet; run `dg utils refresh-defs-state` in the project",
                self.tenant_name,
            )
        tenant = self.tenant_name
        return build_amperity_defs(
            config=self.ops_config,
            store_url=self.store_url,
            translator=TranslationFnTranslator(self.translation),
            catalogs={tenant: state.catalog_model() if state else None},
            indexes={tenant: state.indexes if state else {}},
            name_suffix=self.effective_suffix,
        )
