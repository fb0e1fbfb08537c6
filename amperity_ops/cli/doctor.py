"""``amperity-ops doctor``: is everything amperity-ops needs in place? One line per check."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

import click
from rich.text import Text

from amperity_ops.cli._context import CliContext, make_console
from amperity_ops.cli._errors import auth_hint, describe_error, describe_error_lines
from amperity_ops.core.durations import format_duration
from amperity_ops.redaction import redact

if TYPE_CHECKING:
    from amperity_ops.settings import OpsConfig, SecretRef, TenantConfig

__all__ = ["Check", "doctor"]

Status = Literal["ok", "warn", "fail"]
_STYLES: dict[Status, str] = {"ok": "bold green", "warn": "bold yellow", "fail": "bold red"}
_MIN_SUBJECT_WIDTH = 13  # "history store"; the column widens to the longest subject
TOKEN_WARN_WITHIN = timedelta(days=7)
"""A static token expiring sooner than this is a warning: someone must generate a new one."""


@dataclass(frozen=True)
class Check:
    """The verdict of one check: ``ok``, ``warn`` (works, needs attention) or ``fail``."""

    status: Status
    subject: str
    detail: str
    more: tuple[str, ...] = ()
    """Further lines under the detail (every problem of an invalid policy file)."""


@click.command()
@click.option(
    "--send-test-alert",
    is_flag=True,
    help="Also send one message marked TEST through each alert sink (PagerDuty and Opsgenie "
    "incidents are resolved right after) and report each result.",
)
@click.pass_obj
def doctor(obj: CliContext, send_test_alert: bool) -> None:
    """Check the policy file, the history store, every alert sink, and each tenant's API.

    Prints one line per check (ok / warn / fail) and exits 1 if any check failed: a sink
    whose secret's variable is unset fails, naming the sink and the variable.
    """
    console = make_console()
    # Collected first (each check is quick and bounded by the client's timeouts), so that the
    # subject column fits the longest subject, e.g. "tenant acme-demo rate budget".
    checks = list(run_checks(obj, send_test_alert=send_test_alert))
    width = max([_MIN_SUBJECT_WIDTH, *(len(check.subject) for check in checks)])
    failed = 0
    for check in checks:
        line = Text(f"{check.status:<5}", style=_STYLES[check.status])
        line.append(f"{check.subject:<{width}}  ", style="bold")
        line.append(check.detail)
        console.print(line, soft_wrap=True)  # one line per check, whatever the width
        for more in check.more:
            console.print(Text(f"{'':<5}{'':<{width}}  {more}"), soft_wrap=True)
        failed += check.status == "fail"
    if failed:
        raise click.ClickException(f"{failed} check{'s' if failed > 1 else ''} failed")


def run_checks(obj: CliContext, *, now: Callable[[], datetime] | None = None,
               send_test_alert: bool = False) -> Iterator[Check]:
    """Every check in order; later checks are skipped when what they need has failed.

    Args:
        obj: The command's context (policy file path).
        now: The clock for token expiry (default: the system clock).
        send_test_alert: Also send a TEST message through each sink.

    Yields:
        One :class:`Check` per subject.
    """
    clock = now or (lambda: datetime.now(UTC))
    config_check, config = _check_config(obj)
    yield config_check
    yield _check_store(config)
    if config is None:
        return
    yield from _check_sinks(config, clock(), send_test_alert=send_test_alert)
    for tenant in config.tenants:
        yield from _check_tenant(tenant, clock())


def _check_config(obj: CliContext) -> tuple[Check, OpsConfig | None]:
    from amperity_ops.settings import load_ops_config

    path = str(obj.config_path) if obj.config_path is not None else None
    source = path or "no policy file (AMPERITY_* environment)"
    try:
        obj.check_config_path()
        config = load_ops_config(path)
    except Exception as err:
        first, *more = describe_error_lines(err)
        if more:
            first += f" ({len(more) + 1} problems)"
        return Check("fail", "policy file", first, tuple(more)), None
    policies = len(config.policies)
    sinks = ", ".join(sorted({s.kind for s in config.alerts})) or "none"
    stop = "on" if config.auto_stop.enabled else "off"
    if config.auto_stop.enabled and config.auto_stop.dry_run:
        stop = "dry run"
    detail = (
        f"{source}: {policies} polic{'y' if policies == 1 else 'ies'}, alerts: {sinks}, "
        f"auto-stop {stop}, {len(config.tenants)} tenant{'s' if len(config.tenants) > 1 else ''}"
    )
    status: Status = "ok" if config.alerts else "warn"
    if not config.alerts:
        detail += " (no alert sink: breaches are only visible in Dagster)"
    return Check(status, "policy file", detail), config


def _check_sinks(config: OpsConfig, now: datetime, *, send_test_alert: bool) -> Iterator[Check]:
    """A line per sink that cannot send (unset secret, bad URL) and, on request, per TEST sent.

    Sinks that can send add no line of their own: the policy file's line lists them.
    """
    import httpx

    from amperity_ops.services.delivery import DELIVERY_TIMEOUT_S
    from amperity_ops.services.sink_check import send_test_alerts, sink_problems
    from amperity_ops.settings import sink_ids

    configs = list(config.alerts)
    problems = sink_problems(configs)
    kinds = dict(zip(sink_ids(configs), (c.kind for c in configs), strict=True))
    for sink_id, found in problems.items():
        subject = f"alert sink {sink_id}"
        if found:
            text = "; ".join(p.describe() for p in found)
            yield Check("fail", subject, f"{kinds[sink_id]}: {text} (its alerts can never be "
                                         "sent)")
    if not send_test_alert:
        return
    broken = frozenset(sink_id for sink_id, found in problems.items() if found)
    with httpx.Client(timeout=DELIVERY_TIMEOUT_S) as http:
        results = send_test_alerts(configs, tenant=config.tenants[0].name, now=now, http=http,
                                   skip=broken)
    for result in results:
        yield Check("ok" if result.ok else "fail", f"alert sink {result.sink}",
                    f"{result.kind}: {result.detail}")


def _check_store(config: OpsConfig | None) -> Check:
    from amperity_ops.settings import OpsSettings
    from amperity_ops.store import Store, safe_url

    try:
        url = OpsSettings().store_url
        shown = safe_url(url)
    except Exception as err:
        return Check("fail", "history store", describe_error(err))
    started = time.monotonic()
    try:
        schema = _check_schema(url, shown)
        if schema is not None:
            return schema
        store = Store.from_url(url)  # connects and creates the tables of an empty database
        try:
            runs = sum(store.count_runs(t.name) for t in config.tenants) if config else None
        finally:
            store.close()
    except Exception as err:
        return Check("fail", "history store", describe_error(err))
    took = (time.monotonic() - started) * 1000
    held = f", {runs} runs held" if runs is not None else ""
    return Check("ok", "history store", f"{shown} ({took:.0f} ms{held})")


def _check_schema(url: str, shown: str) -> Check | None:
    """A store whose schema is not at this version's head, as a problem; None if it is.

    Read before opening the store, which would upgrade a SQLite file by itself: doctor reports
    and changes nothing. Behind is a failure where opening refuses (Postgres), a warning where
    it upgrades automatically (SQLite); either way the line names the command.
    """
    from amperity_ops.store import make_engine, schema_status
    from amperity_ops.store.migrate import upgrades_automatically

    engine = make_engine(url)
    try:
        status = schema_status(engine)
        automatic = upgrades_automatically(engine, status)
    finally:
        engine.dispose()
    if status.behind:
        when = "upgraded at first use, or run" if automatic else "run"
        return Check(
            "warn" if automatic else "fail",
            "history store",
            f"{shown}: schema needs upgrading, {status.describe()} "
            f"({when} `amperity-ops store upgrade`)",
        )
    if status.ahead:
        return Check(
            "warn", "history store", f"{shown}: {status.describe()} (upgrade amperity-ops)"
        )
    return None


def _unset_secrets(tenant: TenantConfig) -> list[str]:
    refs: list[SecretRef | None] = [tenant.access_token, tenant.client_id, tenant.client_secret]
    return [ref.env for ref in refs if ref is not None and ref.env and not ref.is_set]


def _check_tenant(tenant: TenantConfig, now: datetime) -> Iterator[Check]:
    from amperity_ops.client import jwt_expiry
    from amperity_ops.services.tenants import make_client

    subject = f"tenant {tenant.name}"
    missing = _unset_secrets(tenant)
    if missing:
        yield Check("fail", subject, f"credentials: {', '.join(missing)} not set")
        return

    if tenant.access_token is not None:
        expires = jwt_expiry(tenant.access_token.reveal())
        if expires is None:
            yield Check(
                "warn",
                f"{subject} token",
                "static token without an exp claim: cannot tell when it expires",
            )
        elif expires <= now:
            yield Check(
                "fail",
                f"{subject} token",
                f"expired at {expires:%Y-%m-%d %H:%MZ}; "
                "generate a new API token in Amperity or use OAuth client credentials",
            )
            return
        else:
            left = expires - now
            status: Status = "warn" if left <= TOKEN_WARN_WITHIN else "ok"
            yield Check(
                status,
                f"{subject} token",
                f"expires {expires:%Y-%m-%d %H:%MZ} (in {format_duration(left)})",
            )

    started = time.monotonic()
    try:
        with make_client(tenant) as client:
            first = next(iter(client.list_workflow_runs(limit=1)), None)
            budget = _budget_description(client, tenant)
    except Exception as err:
        yield Check("fail", f"{subject} API", describe_error(err) + auth_hint(err, [tenant]))
        return
    took = (time.monotonic() - started) * 1000
    where = redact(tenant.base_url) if tenant.base_url else "default base URL"
    seen = f"latest run {first.id}" if first is not None else "no runs yet"
    auth = "OAuth client credentials, " if tenant.access_token is None else ""
    yield Check("ok", f"{subject} API", f"{where}: {auth}answered in {took:.0f} ms ({seen})")
    yield Check("ok", f"{subject} rate budget", budget)
    yield _check_links(tenant)


def _check_links(tenant: TenantConfig) -> Check:
    """Whether runs get "Open in Amperity" links: they need the tenant's ``app_url``."""
    link = tenant.run_link("<id>")
    if link is None:
        return Check(
            "warn",
            f"tenant {tenant.name} links",
            "no app_url: alerts and tables will have no 'Open in Amperity' links "
            "(set app_url for the tenant in the policy file, or AMPERITY_APP_URL)",
        )
    return Check("ok", f"tenant {tenant.name} links", f"runs link to {link}")


def _budget_description(client: object, tenant: TenantConfig) -> str:
    # The client does not publish its limiter; its repr names the backend and the window.
    limiter = getattr(client, "_limiter", None)
    if limiter is None:
        return "off (no request budget: 429s are only retried)"
    budget = type(getattr(limiter, "budget", None)).__name__
    shared = {
        "FileBudget": "a file shared by every process on this host",
        "MemoryBudget": "memory (this process only)",
        "RedisBudget": "Redis (shared by every host)",
        "PostgresBudget": "Postgres (shared by every host)",
    }.get(budget, budget)
    return f"{tenant.rate_limit_rps:g} requests/s, kept in {shared}"
