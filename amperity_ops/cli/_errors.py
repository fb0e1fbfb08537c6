"""Turning any failure into one clear line for a person, without a traceback or a secret.

The command line is where configuration mistakes, expired tokens and unreachable servers meet
a person; each must read as one sentence that says what failed and, where we know it, what to
do. Messages come from our own exception tree (``ConfigError``, ``AmperityError``), which
already names the field, the status and the request id; this module only picks a prefix, keeps
the first line, and scrubs anything that looks like a credential as a second line of defence.
"""

from __future__ import annotations

import click

from amperity_ops.redaction import redact

__all__ = ["DEBUG_ENV", "describe_error", "describe_error_lines", "redact"]

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


def as_click_exception(err: Exception) -> click.ClickException:
    """Wraps an exception as a :class:`click.ClickException` (on stderr, exit 1).

    One line, except for a configuration error with several problems: one indented line each.
    """
    first, *more = describe_error_lines(err)
    return click.ClickException("\n".join([first, *(f"  {line}" for line in more)]))
