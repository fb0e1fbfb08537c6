"""Faults a tenant can be told to show: bursts, storms, slowness, drops, cut bodies, ...

Counted faults (``server_errors=3``) hit the next N matching requests and then stop by
themselves, which is what a test needs; rates (``server_error_rate=0.1``) go on until changed,
which is what a demo needs, and draw from a seeded RNG so runs are repeatable.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timedelta, timezone
from typing import Any

ODD_KINDS = (
    "null_created_at", "missing_created_at", "wrong_types", "unknown_state", "offset_time",
    "long_name", "extra_fields", "no_id",
)
"""How ``odd_records`` bends a run record (see :func:`make_odd`)."""


@dataclass(frozen=True)
class Faults:
    """What a tenant does wrong. All default to healthy.

    Attributes:
        server_errors: Answer the next N API requests with ``server_error_status``.
        server_error_status: The 5xx status used for server errors.
        server_error_rate: Fraction (0..1) of API requests answered 5xx, until changed.
        rate_limit_storm: Answer the next N API requests 429, whatever the limiter says.
        slow_seconds: Delay every API answer by this many seconds (real time).
        drop_connections: Close the connection of the next N requests without answering
            (in-process: the transport raises ``httpx.RemoteProtocolError``).
        truncated_bodies: Cut the body of the next N 200 answers in half (still status 200).
        lose_answers: Let the next N requests act (a stop stops, a start starts), then close
            the connection instead of answering: "the server acted but the answer was lost".
            In-process the transport raises ``httpx.RemoteProtocolError``; the request log
            records status 0, as for a dropped connection.
        retry_after: Seconds sent as ``Retry-After`` on this tenant's 429s (storm and
            limiter). None (the default) sends none, as the real API does (NOTES.md).
        expired_tokens: Treat every bearer token as expired (401) until cleared.
        expired_tokens_next: Answer the next N authenticated requests 401 "expired", then
            accept tokens again (a token that expired early: refresh once and carry on).
        repeat_page_token: List endpoints hand back the ``next_token`` they were given,
            so a naive client loops forever.
        only_paths: Apply the faults only to API paths starting with one of these
            (relative to ``/api``, e.g. ``"/workflow/runs"``); empty = every path.
        odd_records: In every run listing and run read, bend the first N run records as
            ``odd_kind`` says, until changed (odd data, not a failure: the page is 200).
        odd_kind: One of :data:`ODD_KINDS`: ``null_created_at`` (a queued run),
            ``missing_created_at``, ``wrong_types`` (name a number, ``warn_after_ms`` text,
            ``ended_at`` a number), ``unknown_state``, ``offset_time`` (``+02:00`` instead of
            ``Z``), ``long_name`` (5,000 non-ASCII characters), ``extra_fields``, ``no_id``.
        broken_envelopes: Answer the next N list requests 200 with a body that has no
            ``data`` (``{"items": [...]}``).
    """

    server_errors: int = 0
    server_error_status: int = 500
    server_error_rate: float = 0.0
    rate_limit_storm: int = 0
    slow_seconds: float = 0.0
    drop_connections: int = 0
    truncated_bodies: int = 0
    lose_answers: int = 0
    retry_after: int | None = None
    expired_tokens: bool = False
    expired_tokens_next: int = 0
    repeat_page_token: bool = False
    only_paths: tuple[str, ...] = ()
    odd_records: int = 0
    odd_kind: str = "null_created_at"
    broken_envelopes: int = 0

    def __post_init__(self) -> None:
        if self.odd_kind not in ODD_KINDS:
            raise ValueError(f"Faults.odd_kind must be one of {', '.join(ODD_KINDS)}")
        for name in ("server_errors", "rate_limit_storm", "drop_connections", "truncated_bodies",
                     "lose_answers", "expired_tokens_next", "odd_records", "broken_envelopes"):
            if getattr(self, name) < 0:
                raise ValueError(f"Faults.{name} must not be negative")
        if not 500 <= self.server_error_status <= 599:
            raise ValueError("Faults.server_error_status must be a 5xx status")
        if not 0.0 <= self.server_error_rate <= 1.0:
            raise ValueError("Faults.server_error_rate must be between 0 and 1")
        if self.slow_seconds < 0:
            raise ValueError("Faults.slow_seconds must not be negative")
        if self.retry_after is not None and (
            isinstance(self.retry_after, bool) or not isinstance(self.retry_after, int)
            or self.retry_after < 0
        ):
            # RFC 9110: delta-seconds is a non-negative integer.
            raise ValueError("Faults.retry_after must be a non-negative integer (seconds)")

    @property
    def healthy(self) -> bool:
        """True when no fault is set."""
        return self == Faults(only_paths=self.only_paths, odd_kind=self.odd_kind)

    def to_json(self) -> dict[str, Any]:
        """The faults as a JSON object (what ``GET /_sim/tenants/{t}/faults`` returns)."""
        body = asdict(self)
        body["only_paths"] = list(self.only_paths)
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Faults:
        """Faults from a JSON object; unknown fields are an error naming them.

        Raises:
            ValueError: On unknown fields or bad values.
        """
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(body) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        values = dict(body)
        if "only_paths" in values:
            values["only_paths"] = tuple(values["only_paths"] or ())
        return cls(**values)


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request."""

    drop: bool = False
    status: int | None = None
    delay: float = 0.0
    truncate: bool = False
    lose_answer: bool = False
    retry_after: int | None = None
    expired_tokens: bool = False
    expired_tokens_next: int = 0
    repeat_page_token: bool = False
    odd_records: int = 0
    odd_kind: str = "null_created_at"
    broken_envelope: bool = False


_HEALTHY = FaultDecision()


class FaultState:
    """The live faults of one tenant; counted faults are consumed as requests arrive."""

    def __init__(self, faults: Faults, seed: int) -> None:
        self._faults = faults
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    @property
    def current(self) -> Faults:
        """The faults still in force (counts show what is left)."""
        with self._lock:
            return self._faults

    def set(self, faults: Faults) -> None:
        """Replace the faults."""
        with self._lock:
            self._faults = faults

    def decide(self, path: str) -> FaultDecision:
        """Decide (and consume) the faults for one API request to ``path`` (below /api)."""
        with self._lock:
            faults = self._faults
            if faults.healthy:
                return _HEALTHY
            if faults.only_paths and not path.startswith(faults.only_paths):
                return _HEALTHY
            drop = faults.drop_connections > 0
            status = None
            changes: dict[str, Any] = {}
            if drop:
                changes["drop_connections"] = faults.drop_connections - 1
            elif faults.rate_limit_storm > 0:
                status = 429
                changes["rate_limit_storm"] = faults.rate_limit_storm - 1
            elif faults.server_errors > 0:
                status = faults.server_error_status
                changes["server_errors"] = faults.server_errors - 1
            elif faults.server_error_rate and self._rng.random() < faults.server_error_rate:
                status = faults.server_error_status
            lose = False
            if not drop and status is None and faults.lose_answers > 0:
                lose = True
                changes["lose_answers"] = faults.lose_answers - 1
            truncate = False
            if not drop and not lose and status is None and faults.truncated_bodies > 0:
                truncate = True
                changes["truncated_bodies"] = faults.truncated_bodies - 1
            expired = faults.expired_tokens
            # The OAuth endpoint checks no bearer token, so it does not use up the count.
            if (not drop and status is None and faults.expired_tokens_next > 0
                    and not path.startswith("/v0/oauth2/")):
                expired = True
                changes["expired_tokens_next"] = faults.expired_tokens_next - 1
            broken = False
            if not drop and status is None and faults.broken_envelopes > 0:
                broken = True
                changes["broken_envelopes"] = faults.broken_envelopes - 1
            if changes:
                self._faults = replace(faults, **changes)
            return FaultDecision(
                drop=drop,
                status=status,
                delay=faults.slow_seconds,
                truncate=truncate,
                lose_answer=lose,
                retry_after=faults.retry_after,
                expired_tokens=expired,
                repeat_page_token=faults.repeat_page_token,
                odd_records=faults.odd_records,
                odd_kind=faults.odd_kind,
                broken_envelope=broken,
            )


def make_odd(record: dict[str, Any], kind: str) -> dict[str, Any]:
    """A copy of a run record bent the way ``kind`` says (see :data:`ODD_KINDS`).

    Args:
        record: The run as the API renders it.
        kind: One of :data:`ODD_KINDS`.

    Returns:
        The bent copy (the world's own run is untouched).
    """
    odd = dict(record)
    if kind == "null_created_at":
        odd["created_at"] = None
    elif kind == "missing_created_at":
        odd.pop("created_at", None)
    elif kind == "wrong_types":
        odd.update(name=12345, warn_after_ms="soon", ended_at=17)
    elif kind == "unknown_state":
        odd["state"] = "hibernating"
    elif kind == "offset_time":
        created = datetime.fromisoformat(str(odd["created_at"]).replace("Z", "+00:00"))
        odd["created_at"] = created.astimezone(timezone(timedelta(hours=2))).isoformat()
    elif kind == "long_name":
        odd["name"] = ("Ünïcödé ☃ 数据 " * 400)[:5000]
    elif kind == "extra_fields":
        odd.update(priority=3, labels={"team": "data"}, queued_behind=["wf-x"])
    elif kind == "no_id":
        odd["id"] = None
    return odd
