"""Settings: the policy file (``AMPERITY_OPS_CONFIG``) and the process environment.

Two layers, validated once at load:

* :class:`OpsSettings` (pydantic-settings) reads the environment: where the policy file is
  (``AMPERITY_OPS_CONFIG``) and where the history store is (``AMPERITY_OPS_STORE_URL``).
* :class:`OpsConfig` is the policy file itself (YAML): SLA policies, auto-stop, alert sinks,
  tenants, ingest thresholds, the learned baseline and the sensor's timing. Unknown keys are
  rejected, because a typo that silently does nothing is worse than an error.

:func:`load_ops_config` turns every problem into a :class:`ConfigError` whose message names the
file, the field as a dotted path (``policies[0].warn_after``) and what is wrong, in one or a few
lines a person can act on. Secrets are :class:`SecretRef` values (``{env: NAME}`` in YAML):
resolved only when used, never printed.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from amperity_ops.client.connection import TENANT_ID_VARIABLES, TenantConnection
from amperity_ops.client.secrets import ConfigError, SecretRef
from amperity_ops.core.durations import parse_duration
from amperity_ops.oncall_policy import (
    AlertRule,
    AlertRuleMatch,
    DailyWindow,
    DigestConfig,
    MaintenanceWindow,
    QuietHours,
    SinkQuietHours,
    check_sink_references,
)

__all__ = [
    "DEFAULT_OPSGENIE_URL",
    "DEFAULT_PAGERDUTY_URL",
    "DEFAULT_SLACK_API_URL",
    "RATE_LIMIT_BACKEND_ENV",
    "AlertRule",
    "AlertRuleMatch",
    "AlertSinkConfig",
    "AutoStopConfig",
    "BaselineConfig",
    "ConfigError",
    "DailyWindow",
    "DeliveryConfig",
    "DigestConfig",
    "Duration",
    "EmailSinkConfig",
    "IndexCanary",
    "IndexesConfig",
    "IngestThresholds",
    "LogSinkConfig",
    "MaintenanceWindow",
    "OpsConfig",
    "OpsSettings",
    "OpsgenieSinkConfig",
    "PagerDutySinkConfig",
    "Policy",
    "PolicyMatch",
    "QuietHours",
    "SecretRef",
    "SensorConfig",
    "SinkQuietHours",
    "SlackBotSinkConfig",
    "SlackSinkConfig",
    "StartOptions",
    "TeamsSinkConfig",
    "TenantConfig",
    "UnknownTenantError",
    "WebhookSinkConfig",
    "default_store_url",
    "load_ops_config",
    "sink_ids",
]

RATE_LIMIT_BACKEND_ENV = "AMPERITY_RATE_LIMIT_BACKEND"
"""The budget store of every tenant that names none (see ``TenantConfig.rate_limit_backend``)."""
DEFAULT_PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
"""PagerDuty Events API v2 endpoint (overridable per sink, e.g. for tests)."""
DEFAULT_OPSGENIE_URL = "https://api.opsgenie.com/v2/alerts"
"""Opsgenie Alert API v2 (overridable per sink: EU accounts, tests)."""
DEFAULT_SLACK_API_URL = "https://slack.com/api"
"""Slack Web API base (overridable per sink, e.g. for tests)."""


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
"""A positive duration written as ``45s``, ``90m``, ``2h``, ``1d`` (or seconds as a number)."""


class _Strict(BaseModel):
    """Base of every policy-file model: unknown keys are errors (typos must not do nothing)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------
# SLA policies and auto-stop
# --------------------------------------------------------------------------------------------


class PolicyMatch(_Strict):
    """Which workflow runs a policy applies to. Both are globs (``*``, ``?``, ``[ab]``)."""

    name: str = "*"
    """Glob on the workflow run's name, case-sensitive, e.g. ``"Courier Group*"``."""
    type: str | None = None
    """Glob on the run's type, e.g. ``"courier.group/run"``; None matches every type."""

    def matches(self, name: str, type_: str) -> bool:
        """True if a run with this name and type falls under the policy."""
        if not fnmatch.fnmatchcase(name, self.name):
            return False
        return self.type is None or fnmatch.fnmatchcase(type_, self.type)


class Policy(_Strict):
    """An SLA policy: when a matching run is late (warning), too late (breached), what to do."""

    name: str
    """A short label shown in alerts and metadata."""
    match: PolicyMatch = Field(default_factory=PolicyMatch)
    warn_after: Duration | None = None
    """Runtime after which the run is 'warning'."""
    max_runtime: Duration | None = None
    """Runtime after which the run is 'breached' (and, with ``action: stop``, stopped)."""
    action: Literal["alert", "stop"] = "alert"
    """``alert`` (default) or ``stop``: stop the run once it breaches (see ``auto_stop``)."""
    fresh_within: Duration | None = None
    """The workflow's Dagster asset is stale (freshness Degraded) when no run succeeded this
    long; unset: learned from the workflow's cadence of successful runs."""

    @model_validator(mode="after")
    def _coherent(self) -> Policy:
        if self.warn_after is None and self.max_runtime is None:
            raise ValueError("give warn_after, max_runtime or both")
        if self.action == "stop" and self.max_runtime is None:
            raise ValueError("action: stop needs max_runtime (the runtime at which to stop)")
        if (
            self.warn_after is not None
            and self.max_runtime is not None
            and self.warn_after >= self.max_runtime
        ):
            raise ValueError("warn_after must be shorter than max_runtime")
        return self


class AutoStopConfig(_Strict):
    """Guard rails for stops decided by the SLA sensor (a person's stop job is not capped)."""

    enabled: bool = False
    """Off by default: stopping a customer's workflow is opt-in."""
    dry_run: bool = False
    """Decide and say what would be stopped, but do not stop."""
    max_stops_per_hour: int = Field(default=5, ge=0)
    """At most this many automatic stops per tenant in any rolling hour."""
    batch_above: int = Field(default=10, ge=0)
    """When one tick asks for more stops than this, they go in batch runs
    (``stop_amperity_workflow_runs``) instead of a run each; 0 batches every stop, a large
    number never batches."""
    batch_size: int = Field(default=250, ge=1, le=1000)
    """The most stops one batch run carries."""


# --------------------------------------------------------------------------------------------
# Alert sinks
# --------------------------------------------------------------------------------------------


class _SinkBase(_Strict):
    name: str | None = None
    """Identifies the sink in the outbox; default: its kind (``slack``, ``slack-2`` ...)."""


class WebhookSinkConfig(_SinkBase):
    """A generic JSON POST of the alert message."""

    kind: Literal["webhook"]
    url: SecretRef
    """Treated as a secret: webhook URLs often carry a token."""


class SlackSinkConfig(_SinkBase):
    """A Slack incoming webhook (one message per level: a webhook cannot edit)."""

    kind: Literal["slack"]
    webhook_url: SecretRef


class SlackBotSinkConfig(_SinkBase):
    """Slack with a bot token: one message per run, edited in place on escalation and resolve.

    The first alert about a run is posted with ``chat.postMessage``; later ones edit that
    message (``chat.update``). Its ``ts`` is kept in the history store, so a restart edits it
    too.
    """

    kind: Literal["slack_bot"]
    bot_token: SecretRef
    """A bot token (``xoxb-...``) with the ``chat:write`` scope."""
    channel: str = Field(min_length=1)
    """The channel to post in (``#oncall`` or an id like ``C0123456789``); the bot must be a
    member of it."""
    api_url: str = DEFAULT_SLACK_API_URL
    """The Slack Web API base; override only for tests or a proxy."""


class PagerDutySinkConfig(_SinkBase):
    """PagerDuty Events API v2 (trigger and resolve with the same dedup key)."""

    kind: Literal["pagerduty"]
    routing_key: SecretRef
    url: str = DEFAULT_PAGERDUTY_URL
    """The Events API endpoint; override only for tests or a proxy."""


class TeamsSinkConfig(_SinkBase):
    """A Microsoft Teams incoming webhook (Workflows: Adaptive Card; legacy: MessageCard)."""

    kind: Literal["teams"]
    webhook_url: SecretRef
    card: Literal["adaptive", "messagecard"] = "adaptive"


class OpsgenieSinkConfig(_SinkBase):
    """Opsgenie Alert API v2: create with ``alias`` = the run's dedup key, close on resolve."""

    kind: Literal["opsgenie"]
    api_key: SecretRef
    """An API key of an Opsgenie API integration (sent as ``GenieKey``)."""
    url: str = DEFAULT_OPSGENIE_URL
    """The Alert API base (EU accounts: ``https://api.eu.opsgenie.com/v2/alerts``)."""
    responders: list[str] = Field(default_factory=list)
    """Team names to route the alert to (empty: the integration's own routing)."""
    tags: list[str] = Field(default_factory=list)


class EmailSinkConfig(_SinkBase):
    """E-mail over SMTP (stdlib ``smtplib``): one mail per alert, threaded per run."""

    kind: Literal["email"]
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    """Default: 587 with ``starttls``, 465 with ``ssl``, 25 with ``none``."""
    security: Literal["starttls", "ssl", "none"] = "starttls"
    """``starttls`` (default), ``ssl`` (implicit TLS) or ``none`` (a local relay only)."""
    username: SecretRef | None = None
    password: SecretRef | None = None
    from_addr: str = Field(validation_alias=AliasChoices("from", "from_addr"))
    """The sender, e.g. ``amperity-ops@example.com`` (YAML key ``from``)."""
    to: list[str] = Field(min_length=1)
    """Recipients."""
    timeout_seconds: float = Field(default=10.0, gt=0)
    ca_file: str | None = None
    """A CA bundle to verify the server's certificate with (a private relay); default: the
    system's trusted CAs."""

    @model_validator(mode="after")
    def _auth_pair(self) -> EmailSinkConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("give username and password together (or neither, for a relay "
                             "that needs no login)")
        return self

    @property
    def effective_port(self) -> int:
        """The port to connect to: ``port``, else the usual one for ``security``."""
        return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]


class LogSinkConfig(_SinkBase):
    """Python logging (logger ``amperity_ops.alerts``): handy in the demo and as a fallback."""

    kind: Literal["log"]
    file: str | None = None
    """Also append each alert to this file (``$VAR`` and ``~`` are expanded; the directory is
    created), so alerts can be read apart from the process's busy log."""


AlertSinkConfig = Annotated[
    WebhookSinkConfig | SlackSinkConfig | PagerDutySinkConfig | TeamsSinkConfig | LogSinkConfig
    | SlackBotSinkConfig | OpsgenieSinkConfig | EmailSinkConfig,
    Field(discriminator="kind"),
]


def sink_ids(sinks: list[AlertSinkConfig]) -> list[str]:
    """The outbox name of each sink: its ``name``, else its kind, numbered when repeated.

    Args:
        sinks: The configured sinks, in file order.

    Returns:
        One unique id per sink, in the same order.
    """
    ids: list[str] = []
    seen: dict[str, int] = {}
    for sink in sinks:
        base = sink.name or sink.kind
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return ids


class DeliveryConfig(_Strict):
    """How the alert outbox retries a sink that is down."""

    retry_initial: Duration = timedelta(seconds=30)
    """Wait after the first failure; doubles after each further failure."""
    retry_max: Duration = timedelta(minutes=15)
    """Longest wait between two attempts."""
    give_up_after: Duration = timedelta(days=3)
    """An alert still undelivered this long after it was raised is marked expired (kept in the
    store, logged at ERROR), because a three-day-old page helps nobody."""


# --------------------------------------------------------------------------------------------
# Tenants
# --------------------------------------------------------------------------------------------


class TenantConfig(TenantConnection):
    """A tenant entry of the policy file: the one tenant connection model, budget always on.

    Same fields, defaults and checks as :class:`~amperity_ops.client.TenantConnection` (unknown
    keys rejected, ``name`` defaults to the tenant id, ``run_link``, ``client()``), except that
    the request budget cannot be turned off: the monitor's sensors run unattended beside
    everyone else's use of the tenant. Without a ``tenants:`` list the one tenant is read
    from the ``AMPERITY_*`` variables (:meth:`TenantConnection.environment_values`).
    """

    rate_limit_rps: float = Field(
        default=10.0,
        gt=0,
        description="Requests per second allowed for this tenant, across all callers (the "
        "monitor always keeps a budget).",
    )
    shard: int | None = Field(
        default=None,
        ge=1,
        description="The code location (k of AMPERITY_OPS_SHARD=k/n) that watches this "
        "tenant; None: a stable hash of its name decides. Ignored when not sharded.",
    )

    @model_validator(mode="before")
    @classmethod
    def _budget_backend_from_env(cls, data: Any) -> Any:
        # One shared budget store for the whole fleet, without its URL (often with a password)
        # in the policy file: a tenant that names no backend takes AMPERITY_RATE_LIMIT_BACKEND.
        shared = os.environ.get(RATE_LIMIT_BACKEND_ENV, "").strip()
        if shared and isinstance(data, dict) and not data.get("rate_limit_backend"):
            return {**data, "rate_limit_backend": shared}
        return data


class UnknownTenantError(KeyError, ValueError):
    """A tenant name that the policy file does not list.

    A ``KeyError`` (a failed look-up) and a ``ValueError`` (a bad argument to a job or command);
    ``str()`` is the message itself, not its ``repr`` as for a plain ``KeyError``.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# --------------------------------------------------------------------------------------------
# Thresholds, baseline, sensor
# --------------------------------------------------------------------------------------------


class IngestThresholds(_Strict):
    """When an ingest feed is unhealthy. Rates are fractions of rows read (0.01 = 1 %)."""

    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    max_reject_rate: float = Field(default=0.05, ge=0, le=1)
    alert_on_failed_feed: bool = True


class BaselineConfig(_Strict):
    """A learned warning line for workflows no policy covers: pXX of recent successes x factor."""

    enabled: bool = False
    percentile: float = Field(default=95.0, gt=0, le=100)
    """Which percentile of recent successful runtimes (``p95`` or ``95``)."""
    factor: float = Field(default=1.5, ge=1.0)
    min_samples: int = Field(default=5, ge=1)
    """Fewer successful runs than this: no baseline (too little to learn from)."""
    window: int = Field(default=50, ge=1)
    """How many of the most recent successful runs to learn from."""

    @field_validator("percentile", mode="before")
    @classmethod
    def _p_prefix(cls, value: Any) -> Any:
        if isinstance(value, str) and value.lower().startswith("p"):
            return value[1:]
        return value


MAX_TIME_BUDGET = timedelta(seconds=40)
"""The largest ``sensor.time_budget`` accepted (see :class:`SensorConfig`)."""
MIN_INTERVAL = timedelta(seconds=5)
"""The shortest ``sensor.interval``: the Dagster daemon's sensor loop runs every 5 s."""
MAX_CONCURRENCY = 256
"""The largest ``sensor.concurrency``: more threads only queue on the store and the GIL
(shard the tenants across code locations instead)."""


class SensorConfig(_Strict):
    """Timing of the SLA and ingest sensors."""

    interval: Duration = timedelta(seconds=60)
    """How often the SLA sensor does its work (the ingest sensor: twice as long). Dagster fixes
    a sensor's interval when the code location loads, and the code location reads it from this
    file then: a change takes effect when the code location reloads. At least 5 s, the Dagster
    daemon's own loop."""
    time_budget: Duration = timedelta(seconds=30)
    """Work stops at this budget and resumes next tick (Dagster's tick limit is 60 s).

    At most 40 s: after the budget, delivery still gets a few seconds and one sink send may
    take its 10 s timeout, and all of it must end inside Dagster's 60 s."""
    concurrency: int = Field(default=32, ge=1, le=MAX_CONCURRENCY)
    """How many tenants one tick reads at once (threads: the work is waiting on the API).
    Each tenant keeps its own client and request budget, so this bounds only how many
    tenants wait at the same time; 1 reads them one after another."""
    tenant_timeout: Duration = timedelta(seconds=10)
    """How long one tenant may take within a tick. A tenant still reading then is left
    behind (reported, evaluated next tick) and costs the others nothing more."""

    @model_validator(mode="after")
    def _budget_inside_interval(self) -> SensorConfig:
        if self.interval < MIN_INTERVAL:
            raise ValueError(
                "interval must be at least 5s (the Dagster daemon looks at its sensors every "
                "5 s, so a shorter interval would not be honoured), e.g. interval: 30s"
            )
        if self.time_budget > MAX_TIME_BUDGET:
            raise ValueError(
                "time_budget must stay well inside Dagster's 60 s tick limit (at most 40s: "
                "alert delivery and one slow request still follow it)"
            )
        if not timedelta(0) < self.tenant_timeout <= self.time_budget:
            raise ValueError(
                "tenant_timeout must be more than 0s and at most time_budget (one tenant "
                "cannot take longer than the whole tick), e.g. tenant_timeout: 10s"
            )
        return self


# --------------------------------------------------------------------------------------------
# Profile indexes and workflows started from Dagster (docs/dagster.md)
# --------------------------------------------------------------------------------------------


class IndexCanary(_Strict):
    """A profile lookup that must find someone: ``filter[<attribute>]=<value>`` on an index."""

    name: str
    """Names the asset check (``canary_<name>``); short, unique per tenant."""
    index: str
    """The index's name or id (``GET /indexes``), e.g. ``loyalty_members`` or ``idx-xyz789``."""
    filter: dict[str, str] = Field(min_length=1)
    """Attribute to value, all of which must match, e.g. ``{loyalty_id: "123456789-0"}``: pick
    a profile that exists in every build (a test customer)."""


class IndexesConfig(_Strict):
    """Profile indexes as assets: their ``updated_at`` observed, optional canary lookups."""

    enabled: bool = True
    """Observe the tenant's profile indexes (one ``GET /indexes`` per check interval)."""
    fresh_within: Duration = timedelta(days=1, hours=6)
    """An index not updated for this long is stale (asset freshness): a nightly build plus
    slack."""
    check_interval: Duration = timedelta(minutes=15)
    """How often the index sensor reads the indexes and runs the canaries."""
    canaries: list[IndexCanary] = Field(default_factory=list)
    """Lookups expected to return at least one profile; each is an asset check."""

    @model_validator(mode="after")
    def _unique_canaries(self) -> IndexesConfig:
        names = [c.name for c in self.canaries]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"canaries: names must be unique, repeated: {', '.join(dupes)}")
        return self


class StartOptions(_Strict):
    """How a workflow in ``startable`` runs when its asset is materialized."""

    stop_on_terminate: bool = True
    """Terminating the Dagster run stops the Amperity run (recorded in the stop ledger)."""
    timeout: Duration = timedelta(hours=6)
    """The Dagster run fails if the Amperity run has not ended by then (it is left running)."""
    poll_interval: Duration = timedelta(seconds=30)
    """Time between two reads of the run while waiting (one request each)."""


# --------------------------------------------------------------------------------------------
# The policy file
# --------------------------------------------------------------------------------------------


class OpsConfig(_Strict):
    """The whole policy file. Every section is optional; ``tenants`` is never empty."""

    policies: list[Policy] = Field(default_factory=list)
    """SLA policies; the first whose ``match`` fits a run wins."""
    auto_stop: AutoStopConfig = Field(default_factory=AutoStopConfig)
    alerts: list[AlertSinkConfig] = Field(default_factory=list)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    tenants: list[TenantConfig]
    ingest_thresholds: IngestThresholds = Field(default_factory=IngestThresholds)
    baseline: BaselineConfig = Field(default_factory=BaselineConfig)
    sensor: SensorConfig = Field(default_factory=SensorConfig)
    # On-call (amperity_ops/oncall_policy.py): without these, every alert goes to every sink.
    alert_rules: list[AlertRule] = Field(default_factory=list)
    """Which sinks get which alerts; the first match decides unless a rule says continue."""
    default_sinks: list[str] | None = None
    """Where alerts no rule matches go; None: every sink."""
    quiet_hours: list[SinkQuietHours] = Field(default_factory=list)
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=list)
    digest: DigestConfig | None = None
    alert_on_failed_runs: bool = True
    """A run that ends failed without having been late gets one ``failed`` alert (kind
    ``failure``, routed by ``alert_rules``). On by default: a failure nobody hears of is the
    silent page on-call fears; turn it off where Amperity's own failure emails already page."""
    indexes: IndexesConfig = Field(default_factory=IndexesConfig)
    """Profile indexes as assets (observed ``updated_at``, freshness, canary checks)."""
    startable: dict[str, str] = Field(default_factory=dict)
    """Workflow name to ``config_id``: these workflows' assets can be materialized, which
    starts the workflow (``POST /workflow/runs``) and waits for its end."""
    start: StartOptions = Field(default_factory=StartOptions)
    """Options of the runs ``startable`` workflows make."""

    @field_validator("startable")
    @classmethod
    def _startable_ids(cls, value: dict[str, str]) -> dict[str, str]:
        for name, config_id in value.items():
            if not name.strip() or not config_id.strip() or any(c in config_id for c in " /?#%\\"):
                raise ValueError(
                    f"{name!r}: map the workflow's name to its config_id, e.g. "
                    "'Daily Ecommerce Sources: cg-2Kc8nRw1Q'"
                )
        return value

    @model_validator(mode="before")
    @classmethod
    def _tenants_from_env(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("tenants") is None:
            if not any(os.environ.get(v) for v in TENANT_ID_VARIABLES):
                raise ValueError(
                    "no tenants: add a 'tenants:' list to the policy file or set "
                    "AMPERITY_TENANT_ID (with AMPERITY_ACCESS_TOKEN, or AMPERITY_CLIENT_ID and "
                    "AMPERITY_CLIENT_SECRET)"
                )
            # Raw values, validated below as tenants[0] so errors name the field.
            data = {**data, "tenants": [TenantConfig.environment_values(os.environ)]}
        return data

    @model_validator(mode="after")
    def _unique_names(self) -> OpsConfig:
        for label, names in (("tenants", [t.name for t in self.tenants]),
                             ("policies", [p.name for p in self.policies]),
                             ("alerts", sink_ids(self.alerts))):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{label}: names must be unique, repeated: {', '.join(dupes)}")
        if not self.tenants:
            raise ValueError("tenants: the list is empty; give at least one tenant")
        effective = self.alerts or [LogSinkConfig(kind="log")]
        ids = sink_ids(list(effective))
        check_sink_references(
            known=ids, kinds={i: s.kind for i, s in zip(ids, effective, strict=True)},
            alert_rules=self.alert_rules, default_sinks=self.default_sinks,
            quiet_hours=self.quiet_hours, digest=self.digest,
        )
        return self

    def tenant(self, name: str | None = None) -> TenantConfig:
        """The tenant called ``name`` (its ``name`` or ``tenant_id``); None or "": the first.

        Raises:
            UnknownTenantError: No such tenant (a ``KeyError``; the message lists the known
                ones).
        """
        if not name and not self.tenants:  # a shard whose tenants all hash elsewhere
            raise UnknownTenantError("tenant: no tenants here (this shard watches none)")
        if not name:
            return self.tenants[0]
        for tenant in self.tenants:
            if name in (tenant.name, tenant.tenant_id):
                return tenant
        known = ", ".join(t.name for t in self.tenants)
        raise UnknownTenantError(f"tenant: no tenant named {name!r} (known: {known})")


# --------------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------------


def default_store_url(environ: Mapping[str, str] | None = None) -> str:
    """Where the history store lives when ``AMPERITY_OPS_STORE_URL`` is not set.

    ``$DAGSTER_HOME/amperity_ops.sqlite`` when Dagster's home is set (so the demo keeps all its
    state in one directory); else ``~/.amperity_ops/amperity_ops.sqlite``; else a file in the
    temp directory when there is no usable home.
    """
    env = os.environ if environ is None else environ
    if env.get("DAGSTER_HOME"):
        base = Path(env["DAGSTER_HOME"])
    else:
        try:
            base = Path.home() / ".amperity_ops"
        except RuntimeError:  # no home directory (some containers)
            base = Path(tempfile.gettempdir()) / "amperity_ops"
    return f"sqlite:///{base / 'amperity_ops.sqlite'}"


class OpsSettings(BaseSettings):
    """The process environment: where the policy file and the history store are."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    config_path: Path | None = Field(
        default=None, validation_alias=AliasChoices("AMPERITY_OPS_CONFIG", "config_path")
    )
    """The policy file (YAML); None: defaults, with one tenant from ``AMPERITY_*`` variables."""
    store_url: str = Field(
        default_factory=default_store_url,
        validation_alias=AliasChoices("AMPERITY_OPS_STORE_URL", "store_url"),
    )
    """SQLAlchemy URL of the history store (``sqlite:///...`` or ``postgresql+psycopg2://...``)."""

    @field_validator("config_path", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("store_url", mode="before")
    @classmethod
    def _empty_store_is_default(cls, value: Any) -> Any:
        return default_store_url() if isinstance(value, str) and not value.strip() else value


# --------------------------------------------------------------------------------------------
# Loading, with errors people can act on
# --------------------------------------------------------------------------------------------


def _all_field_names() -> set[str]:
    models: list[type[BaseModel]] = [
        OpsConfig, Policy, PolicyMatch, AutoStopConfig, DeliveryConfig, TenantConfig,
        IngestThresholds, BaselineConfig, SensorConfig, SecretRef, WebhookSinkConfig,
        IndexesConfig, IndexCanary, StartOptions,
        SlackSinkConfig, PagerDutySinkConfig, TeamsSinkConfig, LogSinkConfig,
        AlertRule, AlertRuleMatch, SinkQuietHours, MaintenanceWindow, DigestConfig,
        SlackBotSinkConfig, OpsgenieSinkConfig, EmailSinkConfig,
    ]
    return {name for model in models for name in model.model_fields}


_SINK_KINDS = {"webhook", "slack", "slack_bot", "pagerduty", "teams", "log", "opsgenie", "email"}


def _dotted(loc: tuple[int | str, ...]) -> str:
    """``('policies', 0, 'warn_after')`` -> ``policies[0].warn_after`` (union tags dropped)."""
    out = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(previous, int) and part in _SINK_KINDS:
            pass  # pydantic inserts the discriminator value after the list index
        elif part.startswith(("function-", "function_")):
            pass
        else:
            out += f".{part}" if out else part
        previous = part
    return out or "(top level)"


def _explain(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        close = difflib.get_close_matches(key, sorted(_all_field_names()), n=1)
        return "unknown key" + (f" (did you mean '{close[0]}'?)" if close else "")
    message = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if kind == "union_tag_invalid":
        message = "unknown kind; use one of: " + ", ".join(sorted(_SINK_KINDS))
    return message


def format_validation_error(source: str, error: ValidationError) -> str:
    """One line per problem: ``<source>: <field>: <what is wrong>`` (no input values shown)."""
    lines = []
    for err in error.errors(include_url=False, include_input=False):
        if err.get("ctx", {}).get("at"):  # a cross-field check names its own field
            lines.append(f"{source}: {err['msg']}")
            continue
        lines.append(f"{source}: {_dotted(tuple(err['loc']))}: {_explain(err)}")
    return "\n".join(lines)


def load_ops_config(
    path: str | os.PathLike[str] | None = None, *, tenant: TenantConnection | None = None
) -> OpsConfig:
    """Read and validate the policy file.

    Args:
        path: The YAML file; None reads ``AMPERITY_OPS_CONFIG``, and when that is unset too,
            returns the defaults with one tenant from the ``AMPERITY_*`` variables.
        tenant: The one tenant, given by the caller (the Dagster resource's ``tenant``) instead
            of the ``AMPERITY_*`` variables; an error if the file lists ``tenants:`` too.

    Returns:
        The validated configuration.

    Raises:
        ConfigError: The file is missing, not YAML, or invalid. The message names the file, the
            field (``policies[0].warn_after``) and the problem; it never contains a secret.
    """
    if path is None:
        path = OpsSettings().config_path
    if path is None:
        source, data = "environment (no AMPERITY_OPS_CONFIG)", {}
    else:
        source = str(path)
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"{source}: policy file not found (set by AMPERITY_OPS_CONFIG?)")
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            problem = getattr(err, "problem", None) or "not valid YAML"
            raise ConfigError(f"{source}: {where}YAML syntax error: {problem}") from None
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"{source}: cannot read the file ({err})") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: the top level must be a mapping (policies:, alerts: ...)")
    if tenant is not None:
        if data.get("tenants") is not None:
            raise ConfigError(
                f"{source}: tenants: the file lists tenants and a tenant was given to the "
                "resource too; keep one of them"
            )
        # Validated again as tenants[0]: the policy file's rules (a budget) apply to it too.
        data = {**data, "tenants": [dict(tenant)]}
    from_file = path is not None and tenant is None and data.get("tenants") is not None
    try:
        config = OpsConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(source, err)) from None
    return _with_base_url_sources(config, source if from_file else None,
                                  from_resource=tenant is not None)


def _with_base_url_sources(
    config: OpsConfig, policy_file: str | None, *, from_resource: bool
) -> OpsConfig:
    """Each tenant says where its ``base_url`` came from, for connection errors.

    ``tenants[<i>].base_url in <policy file>`` for a listed tenant, the resource's field for
    the resource's tenant, ``AMPERITY_BASE_URL`` for the tenant read from the environment.
    """
    tenants = []
    for index, tenant in enumerate(config.tenants):
        if policy_file is not None:
            where = f"tenants[{index}].base_url in {policy_file}"
        elif from_resource:
            where = "tenant.base_url of the amperity_ops resource"
        else:
            where = "AMPERITY_BASE_URL"
        tenants.append(tenant.from_source(where))
    return config.model_copy(update={"tenants": tenants})
