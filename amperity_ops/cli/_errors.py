"""Turning any failure into one clear line for a person, without a traceback or a secret.

The command line is where configuration mistakes, expired tokens and unreachable servers meet
a person; each must read as one sentence that says what failed and, where we know it, what to
do. Messages come from our own exception tree (``ConfigError``, ``AmperityError``), which
already names the field, the status and the request id; this module only picks a prefix, keeps
the first line, and scrubs anything that looks like a credential as a second line of defence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from amperity_ops.redaction import redact

if TYPE_CHECKING:
    from amperity_ops.settings import TenantConfig

__all__ = ["DEBUG_ENV", "auth_hint", "describe_error", "describe_error_lines", "redact",
           "store_hint"]

DEBUG_ENV = "AMPERITY_OPS_DEBUG"
"""Set to 1 to let unexpected exceptions through with their traceback (for bug reports)."""


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def _prefix_for(err: BaseException) -> str:
    """A short label saying which part failed, from the exception's class and module."""
    module = type(err).__module__
    name = type(err).__name__
    if name == "ConfigError":
        return "configuration error"
    if module.startswith("amperity_ops.client"):
        return "Amperity API error"
    if module.startswith(("sqlalchemy", "psycopg2", "amperity_ops.store")):
        return "history store error"
    if module.startswith("httpx") or isinstance(err, ConnectionError):
        return "connection error"
    if isinstance(err, OSError):
        return "file error"
    if isinstance(err, ValueError):
        return "invalid value"
    return f"unexpected {name}"


def describe_error(err: BaseException) -> str:
    """One line describing a failure, safe to print.

    Args:
        err: The exception that ended the command.

    Returns:
        ``"<what failed>: <first line of the message>"``, redacted.
    """
    message = _first_line(str(err))
    if type(err).__module__.startswith("sqlalchemy"):
        # SQLAlchemy wraps the driver's message as "(psycopg2.OperationalError) ..." and appends
        # the statement and a link; the driver's own first line is the useful part.
        orig = getattr(err, "orig", None)
        message = _first_line(str(orig)) if orig is not None else message
    if not message:
        message = type(err).__name__
    return redact(f"{_prefix_for(err)}: {message}")


def describe_error_lines(err: BaseException) -> list[str]:
    """Like :func:`describe_error`, but a configuration error keeps every problem it lists.

    A policy file with three mistakes says so in three lines (one per field); fixing them one
    run at a time would be tedious. Other errors stay one line.

    Args:
        err: The exception that ended the command.

    Returns:
        The first line as :func:`describe_error` gives it, then any further problems, redacted.
    """
    first = describe_error(err)
    if type(err).__name__ != "ConfigError":
        return [first]
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    return [first, *(redact(line) for line in lines[1:])]


def store_hint(err: BaseException, store_url: str | None) -> str:
    """Which history store failed, after a database error: ``" (history store <url>)"``.

    The driver's first line rarely says which database it was talking to; the URL (password
    masked, ``Store.url``) tells the reader which ``AMPERITY_OPS_STORE_URL`` to check.

    Args:
        err: The exception that ended the command.
        store_url: The runtime's store URL, None when no runtime was built.

    Returns:
        The hint, or ``""`` for any other error (or an error that already names the store).
    """
    if store_url is None or store_url in str(err):
        return ""
    if not type(err).__module__.startswith(("sqlalchemy", "psycopg2", "sqlite3")):
        return ""
    return f" (history store {store_url})"


def auth_hint(err: BaseException, tenants: Sequence[TenantConfig]) -> str:
    """What to check after a 401/403: the variables or policy entries holding the credentials.

    Shared by ``doctor`` and every other command (through :func:`as_click_exception`), so a
    bad token reads the same wherever it is met.

    Args:
        err: The exception that ended the command (or the check).
        tenants: The tenants whose credentials may be at fault.

    Returns:
        ``"; check AMPERITY_ACCESS_TOKEN (...)"``, or ``""`` for any other error.
    """
    from amperity_ops.client.errors import AuthenticationError, PermissionDeniedError

    if not isinstance(err, AuthenticationError | PermissionDeniedError) or not tenants:
        return ""
    names: list[str] = []
    for tenant in tenants:
        refs = [tenant.access_token] if tenant.access_token is not None else [
            tenant.client_id, tenant.client_secret
        ]
        names += [ref.env for ref in refs if ref is not None and ref.env and ref.env not in names]
    where = " / ".join(names) if names else "the credentials"
    token = all(tenant.access_token is not None for tenant in tenants)
    what = "token" if token else "OAuth client"
    if isinstance(err, PermissionDeniedError):
        return f"; the {what} may be read-only or lack this tenant's permissions ({where})"
    return f"; check {where} (the tenant's {what} in the policy file or environment)"


def as_click_exception(err: Exception, *, hint: str = "") -> click.ClickException:
    """Wraps an exception as a :class:`click.ClickException` (on stderr, exit 1).

    One line (plus ``hint``, e.g. :func:`auth_hint`), except for a configuration error with
    several problems: one indented line each.
    """
    first, *more = describe_error_lines(err)
    return click.ClickException("\n".join([first + hint, *(f"  {line}" for line in more)]))
