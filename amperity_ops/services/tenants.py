"""One API client per tenant, each with its own credentials and rate budget."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from amperity_ops.client import AmperityClient, AmperityError
from amperity_ops.redaction import redact
from amperity_ops.settings import ConfigError

if TYPE_CHECKING:
    import httpx

    from amperity_ops.settings import TenantConfig

__all__ = [
    "ClientFactory",
    "describe_tenant_error",
    "for_each_tenant",
    "make_client",
    "open_clients",
    "rotate",
]

log = logging.getLogger(__name__)

ClientFactory = Callable[["TenantConfig"], AmperityClient]
"""Builds the client for one tenant (tests pass one that uses the simulator's transport)."""


def rotate(names: Sequence[str], first: str | None) -> list[str]:
    """The tenant names starting with ``first`` (a tick that ran out of time resumes there).

    An unknown or missing ``first`` (a tenant removed from the policy file) means the usual order.
    """
    if first is None or first not in names:
        return list(names)
    i = list(names).index(first)
    return [*names[i:], *names[:i]]


def describe_tenant_error(tenant: TenantConfig, err: BaseException) -> str:
    """One line naming what failed for a tenant, safe for logs, metadata and run pages.

    Our exceptions carry no secret; this still scrubs the tenant's own credentials (wherever
    they came from) and anything credential-shaped, because the line is shown to people.

    Args:
        tenant: The tenant whose call failed.
        err: The exception.

    Returns:
        ``"<ExceptionClass>: <message>"``, redacted.
    """
    secrets: list[str | None] = []
    for ref in (tenant.access_token, tenant.client_secret):
        try:
            secrets.append(None if ref is None else ref.reveal())
        except ConfigError:  # an unset variable: nothing to scrub
            continue
    return redact(f"{type(err).__name__}: {err}", *secrets)


def make_client(
    tenant: TenantConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    rate_limit_rps: float | None = None,
) -> AmperityClient:
    """The default :data:`ClientFactory`: ``tenant.client()`` with two test-friendly overrides.

    Args:
        tenant: The tenant's entry in the policy file (or the default one from ``AMPERITY_*``).
        transport: An httpx transport to use instead of the network (the simulator in tests).
        rate_limit_rps: Overrides the tenant's request budget (benchmarks turn it off with 0).

    Returns:
        A client; close it (it is a context manager) when done.
    """
    overrides: dict[str, Any] = {"transport": transport}
    if rate_limit_rps is not None:
        overrides["rate_limit_rps"] = rate_limit_rps
    return tenant.client(**overrides)


@contextmanager
def open_clients(
    tenants: Sequence[TenantConfig], factory: ClientFactory = make_client
) -> Iterator[Mapping[str, AmperityClient]]:
    """Open one client per tenant, keyed by tenant name, and close them all afterwards.

    Args:
        tenants: The tenants to open clients for.
        factory: Builds a client from a tenant's configuration.

    Yields:
        Tenant name -> client. Building a client makes no request.
    """
    with ExitStack() as stack:
        yield {t.name: stack.enter_context(factory(t)) for t in tenants}


T = TypeVar("T")


def for_each_tenant(
    tenants: Sequence[TenantConfig],
    work: Callable[[TenantConfig, AmperityClient], T],
    factory: ClientFactory = make_client,
) -> tuple[dict[str, T], dict[str, str]]:
    """Run ``work`` for every tenant with its own client; one failing tenant hides no other.

    Args:
        tenants: The tenants, in order.
        work: Called with (tenant, its open client).
        factory: Builds a tenant's client (a missing credential fails only that tenant).

    Returns:
        (tenant name -> result, tenant name -> one-line error) for the tenants that failed with
        an API or configuration error. Error lines come from our exceptions' messages, which
        never contain a secret.
    """
    results: dict[str, T] = {}
    errors: dict[str, str] = {}
    for tenant in tenants:
        try:
            with factory(tenant) as client:
                results[tenant.name] = work(tenant, client)
        except (AmperityError, ConfigError) as err:
            errors[tenant.name] = describe_tenant_error(tenant, err)
            log.warning("tenant %s: %s", tenant.name, errors[tenant.name])
    return results, errors
