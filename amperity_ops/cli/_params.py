"""Click parameter types for the values people type: ``--since 30d``, ``--state running``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import click

from amperity_ops.client import ACTIVE_KINDS, TERMINAL_KINDS, StateKind
from amperity_ops.core.durations import parse_duration

__all__ = ["SINCE", "STATE", "STATE_GROUPS", "Since", "resolve_since"]

STATE_GROUPS: dict[str, frozenset[StateKind]] = {
    "active": ACTIVE_KINDS,
    "ended": TERMINAL_KINDS,
    **{kind.value: frozenset({kind}) for kind in StateKind},
}
"""``--state`` values: every normalised state, plus ``active`` and ``ended``."""


class Since(click.ParamType):
    """A point in the past: a duration back from now (``30d``, ``90m``) or an ISO-8601 time.

    Converts to a :class:`timedelta` (resolved later with :func:`resolve_since`, against the
    runtime's clock, which is the simulator's in the demo) or a UTC :class:`datetime`.
    """

    name = "since"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parses the value, failing with a usage error that shows what was typed."""
        if isinstance(value, datetime | timedelta):
            return value
        text = str(value).strip()
        try:
            return parse_duration(text)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            self.fail(
                f"{text!r} is neither a duration (45s, 90m, 2h, 30d) nor an ISO-8601 time",
                param,
                ctx,
            )
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


SINCE = Since()
STATE = click.Choice(sorted(STATE_GROUPS), case_sensitive=False)


def resolve_since(value: datetime | timedelta, now: datetime) -> datetime:
    """The moment a ``--since`` value names: ``now - value`` for a duration."""
    return now - value if isinstance(value, timedelta) else value
