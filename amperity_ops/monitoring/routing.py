"""Which sinks get an alert: the policy file's ``alert_rules``, decided at enqueue time.

Rules are tried in file order. A matching rule adds its sinks; unless it says ``continue:
true`` the search stops there. An alert no rule matches goes to ``default_sinks`` (None: every
sink), so a policy file without rules sends every alert to every sink, as before rules existed.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from amperity_ops.core.alerts import AlertMessage

if TYPE_CHECKING:
    from amperity_ops.settings import AlertRule, AlertRuleMatch, QuietHours

__all__ = ["Route", "route_alert", "route_level", "rule_label", "rule_matches"]


@dataclass(frozen=True)
class Route:
    """One sink an alert goes to, and the rule that sent it there."""

    sink: str
    rule: str
    """``alert_rules[0]`` (or the rule's name), or ``default``."""
    quiet_hours: QuietHours | None = None
    """The rule's own quiet hours, if it has any."""


def route_level(message: AlertMessage) -> str:
    """The level a rule's ``level`` matches: ``failed`` for a run that ended failed."""
    return "failed" if message.kind == "failure" else message.level.value


def _any_glob(value: str | None, globs: Sequence[str] | None) -> bool:
    if not globs:
        return True
    return value is not None and any(fnmatch.fnmatchcase(value, g) for g in globs)


def rule_matches(match: AlertRuleMatch, message: AlertMessage) -> bool:
    """True if every field the rule's ``match`` gives fits the message."""
    if not _any_glob(message.tenant, match.tenant):
        return False
    if not _any_glob(message.workflow_name, match.workflow):
        return False
    if not _any_glob(message.workflow_type, match.workflow_type):
        return False
    if match.attribution and (message.attribution or "").lower() not in match.attribution:
        return False
    if match.level and route_level(message) not in match.level:
        return False
    return not match.kind or message.kind in match.kind


def rule_label(rule: AlertRule, index: int) -> str:
    """The rule's name, else its place in the file (``alert_rules[2]``)."""
    return rule.name or f"alert_rules[{index}]"


def route_alert(
    message: AlertMessage,
    *,
    rules: Sequence[AlertRule],
    all_sinks: Sequence[str],
    default_sinks: Sequence[str] | None,
) -> list[Route]:
    """The sinks an alert goes to, each once, in the order the rules name them.

    Args:
        message: The alert.
        rules: ``alert_rules`` in file order.
        all_sinks: Every sink id (the outbox names), for the default.
        default_sinks: Where unmatched alerts go; None: every sink.

    Returns:
        One route per sink (empty when the matching rules name no sink).
    """
    routes: dict[str, Route] = {}
    matched = False
    for index, rule in enumerate(rules):
        if not rule_matches(rule.match, message):
            continue
        matched = True
        for sink in rule.sinks:
            routes.setdefault(sink, Route(sink, rule_label(rule, index), rule.quiet_hours))
        if not rule.continue_:
            break
    if not matched:
        for sink in (all_sinks if default_sinks is None else default_sinks):
            routes.setdefault(sink, Route(sink, "default"))
    return list(routes.values())
