"""Typed models for every schema in Amperity's three OpenAPI documents.

Parsing happens here, at the edge: nothing past the client indexes raw dicts.

Rules every model follows:

* **Tolerant of new fields.** Amperity adds fields without notice (and the live service sends
  fields its own spec forbids, such as ``request_id``), so every response model keeps unknown
  fields (``extra="allow"``) instead of failing.
* **Real, UTC-aware datetimes.** The API speaks ISO-8601 in UTC. A timestamp that arrives
  without an offset is read as UTC; one with an offset is converted to UTC.
* **Workflow states are normalised** into :class:`StateKind`. The documented values disagree
  between pages ("In progress", "Running with failures", "canceling", "canceled" ...) and new
  ones may appear at any time, so unrecognised text becomes ``StateKind.UNKNOWN`` and keeps
  its raw text: never a crash, never mistaken for running.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
)
from pydantic_core import core_schema

__all__ = [
    "ACTIVE_KINDS",
    "STOPPABLE_KINDS",
    "TERMINAL_KINDS",
    "AuditEvent",
    "AuditEventList",
    "Campaign",
    "CampaignDraft",
    "CampaignDraftList",
    "CampaignList",
    "ErrorResponse",
    "Index",
    "IndexListResponse",
    "IngestFeed",
    "IngestFeedDetails",
    "IngestFile",
    "IngestFileDetails",
    "IngestJob",
    "IngestJobDetails",
    "IngestJobDetailsList",
    "KnownUtcDatetime",
    "Page",
    "Profile",
    "ProfileListResponse",
    "RunMode",
    "Segment",
    "SegmentList",
    "StateKind",
    "UtcDatetime",
    "Workflow",
    "WorkflowError",
    "WorkflowList",
    "WorkflowRun",
    "WorkflowRunRequest",
    "WorkflowState",
    "WorkflowTask",
    "WorkflowTaskInstance",
    "ensure_utc",
    "normalise_state",
    "set_problems",
]


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` as a UTC-aware datetime.

    Naive datetimes are *treated as UTC* (the API's own convention); aware ones are converted.

    Args:
        value: Any datetime.

    Returns:
        The same instant, with ``tzinfo=UTC``.
    """
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class _UtcDatetimeSchema:
    """Pydantic schema of :data:`UtcDatetime`.

    The common case (a time ending in ``Z`` or ``+00:00``) is accepted by pydantic's Rust
    parser with an offset-0 constraint, with no Python call; anything else (naive, another
    offset, a datetime object) falls through to :func:`ensure_utc`.
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # Text (the wire) or a datetime (Python callers); never a number, which lax parsing
        # would read as seconds since 1970: a wrong type is flagged, not silently a date.
        return core_schema.union_schema(
            [
                core_schema.chain_schema(
                    [core_schema.str_schema(strict=True),
                     core_schema.datetime_schema(tz_constraint=0)]
                ),
                core_schema.chain_schema(
                    [core_schema.str_schema(strict=True),
                     core_schema.no_info_after_validator_function(
                         ensure_utc, core_schema.datetime_schema())]
                ),
                core_schema.no_info_after_validator_function(
                    ensure_utc, core_schema.is_instance_schema(datetime)
                ),
            ],
            mode="left_to_right",
            custom_error_type="utc_datetime",
            custom_error_message="Input should be an ISO-8601 datetime (UTC if no offset)",
        )


UtcDatetime = Annotated[datetime, _UtcDatetimeSchema]
"""A datetime that is always UTC-aware after validation (naive input is read as UTC)."""

KnownUtcDatetime = Annotated[datetime | None, _UtcDatetimeSchema]
"""A documented, required time that may still be unknown once parsed.

The wire must carry a valid time (null or absent fails validation, so the record is parsed on
the slow path and flagged in ``problems``); the Python type says ``None`` is possible, so every
caller has to handle a record whose time did not fit.
"""


def _mentions(annotation: Any, kind: type) -> bool:
    if annotation is kind:
        return True
    return any(_mentions(arg, kind) for arg in get_args(annotation))


def set_problems(
    model: BaseModel,
    problems: tuple[str, ...],
    *,
    odd_records: int = 0,
    dropped_records: int = 0,
) -> None:
    """Record what did not fit on a parsed model (used by the per-item parser only).

    Kept in pydantic's private storage: never dumped, never compared as a field, copied and
    pickled with the model, and free for the common case (no per-item cost when all fits).
    """
    object.__setattr__(
        model,
        "__pydantic_private__",
        {"_problems": problems, "_odd": odd_records, "_dropped": dropped_records},
    )


def _private(model: BaseModel, key: str, default: Any) -> Any:
    private = model.__pydantic_private__
    return private.get(key, default) if private else default


class _ApiModel(BaseModel):
    """Base of every response model: keeps unknown fields, never fails on them.

    Parsing a page stays in pydantic's Rust core (no Python call per item): datetimes use
    :data:`UtcDatetime`'s offset-0 fast path, and workflow states are kept as their wire
    string in the model and turned into a shared :class:`WorkflowState` when read (see
    :class:`_StateAttribute`).
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    @property
    def problems(self) -> tuple[str, ...]:
        """Fields of this record that did not fit the model (empty when all did).

        Each is a dotted path (``"created_at"``, ``"task_instances.2.state"``); such a field
        holds None, its default, or (text fields) its value as text. See ``_lenient.py``.
        """
        problems: tuple[str, ...] = _private(self, "_problems", ())
        return problems

    @property
    def is_partial(self) -> bool:
        """True when some field did not fit (see :attr:`problems`): show it, act carefully."""
        return bool(self.problems)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for name, field in cls.model_fields.items():
            if _mentions(field.annotation, WorkflowState):
                type.__setattr__(cls, name, _StateAttribute(name))


class _StateAttribute:
    """Reads a state field as a :class:`WorkflowState`; the model stores the wire string.

    A data descriptor wins over the instance ``__dict__``, so ``run.state`` always gives a
    ``WorkflowState`` while equality, dumping and copying see one plain string.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        raw = obj.__dict__[self.name]
        if raw is None or isinstance(raw, WorkflowState):
            return raw
        cached = _STATE_CACHE.get(raw)
        return cached if cached is not None else WorkflowState.parse(raw)

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value if value is None else str(value)


# --------------------------------------------------------------------------------------------
# Workflow states
# --------------------------------------------------------------------------------------------


class StateKind(StrEnum):
    """The small, closed set every wire state is normalised into."""

    SCHEDULED = "scheduled"
    RUNNING = "running"
    RUNNING_WITH_FAILURES = "running_with_failures"
    PAUSED = "paused"
    FINALIZING = "finalizing"
    STOPPING = "stopping"
    STOPPED = "stopped"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"


ACTIVE_KINDS = frozenset(
    {
        StateKind.SCHEDULED,
        StateKind.RUNNING,
        StateKind.RUNNING_WITH_FAILURES,
        StateKind.PAUSED,
        StateKind.FINALIZING,
        StateKind.STOPPING,
    }
)
"""States of a run that still occupies the tenant (``WorkflowState.is_active``)."""
STOPPABLE_KINDS = frozenset(
    {StateKind.RUNNING, StateKind.RUNNING_WITH_FAILURES, StateKind.PAUSED}
)
"""Recognised running states a stop may be sent in (``WorkflowState.is_stoppable``)."""
TERMINAL_KINDS = frozenset(
    {StateKind.STOPPED, StateKind.SUCCEEDED, StateKind.FAILED, StateKind.SKIPPED}
)
"""States of a run that has ended (``WorkflowState.is_terminal``)."""

# Every spelling the documents use (after normalising case and separators). Only documented
# values and their plain spelling variants are listed: guessing at others would risk calling
# something "running" that is not.
_STATE_ALIASES: dict[str, StateKind] = {
    "scheduled": StateKind.SCHEDULED,
    "started": StateKind.RUNNING,
    "in_progress": StateKind.RUNNING,
    "running": StateKind.RUNNING,
    "running_with_failures": StateKind.RUNNING_WITH_FAILURES,
    "paused": StateKind.PAUSED,
    "finalizing": StateKind.FINALIZING,
    "finalising": StateKind.FINALIZING,
    "stopping": StateKind.STOPPING,
    "canceling": StateKind.STOPPING,
    "cancelling": StateKind.STOPPING,
    "stopped": StateKind.STOPPED,
    "canceled": StateKind.STOPPED,
    "cancelled": StateKind.STOPPED,
    "succeeded": StateKind.SUCCEEDED,
    "failed": StateKind.FAILED,
    "skipped": StateKind.SKIPPED,
}

_SEPARATORS = re.compile(r"[\s\-_]+")


def normalise_state(raw: str) -> StateKind:
    """Map a wire state to a :class:`StateKind`, ignoring case, spaces, hyphens, underscores.

    Args:
        raw: The state text exactly as the API sent it.

    Returns:
        The recognised kind, or ``StateKind.UNKNOWN`` for anything not documented.
    """
    key = _SEPARATORS.sub("_", raw.strip().lower()).strip("_")
    return _STATE_ALIASES.get(key, StateKind.UNKNOWN)


class WorkflowState:
    """A workflow (or task, or feed) state: the normalised kind plus the raw wire text.

    Immutable. Validates from a plain string (``"In progress"``) and serialises back to that
    string, so a model round-trips through JSON unchanged. Instances are shared per wire text
    (there are only a handful), which makes parsing a page of runs cheap.

    Args:
        kind: The normalised state.
        raw: The state text exactly as the API sent it.
    """

    __slots__ = ("kind", "raw")

    kind: StateKind
    raw: str

    def __init__(self, *, kind: StateKind, raw: str) -> None:
        object.__setattr__(self, "kind", StateKind(kind))
        object.__setattr__(self, "raw", raw)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("WorkflowState is immutable")

    @classmethod
    def parse(cls, raw: str) -> WorkflowState:
        """Build (or reuse) the state for a wire text.

        Args:
            raw: The state text as the API sends it.

        Returns:
            The state, with ``kind`` normalised and ``raw`` kept.
        """
        state = _STATE_CACHE.get(raw)
        if state is None:
            state = cls(kind=normalise_state(raw), raw=raw)
            if len(_STATE_CACHE) < _STATE_CACHE_MAX:
                _STATE_CACHE[raw] = state
        return state

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # Models store the wire string (checked in Rust, no Python call); a WorkflowState or
        # StateKind passed in by Python code is stored as its text.
        return core_schema.union_schema(
            [
                core_schema.str_schema(),
                core_schema.no_info_after_validator_function(
                    str, core_schema.is_instance_schema(WorkflowState)
                ),
                core_schema.no_info_after_validator_function(
                    lambda kind: kind.value, core_schema.is_instance_schema(StateKind)
                ),
            ],
            mode="left_to_right",
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, when_used="always"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return {"type": "string", "description": "A workflow state as Amperity sends it."}

    @property
    def is_active(self) -> bool:
        """True while the run still occupies the tenant (scheduled up to stopping)."""
        return self.kind in ACTIVE_KINDS

    @property
    def is_terminal(self) -> bool:
        """True once the run has ended (stopped, succeeded, failed, skipped)."""
        return self.kind in TERMINAL_KINDS

    @property
    def is_stoppable(self) -> bool:
        """True only for a *recognised* running state; never for unknown ones."""
        return self.kind in STOPPABLE_KINDS

    @property
    def is_unknown(self) -> bool:
        """True when the wire text was not recognised (see ``raw``)."""
        return self.kind is StateKind.UNKNOWN

    def __eq__(self, other: object) -> bool:
        if isinstance(other, WorkflowState):
            return self.kind is other.kind and self.raw == other.raw
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.kind, self.raw))

    def __str__(self) -> str:
        return self.raw

    def __repr__(self) -> str:
        return f"WorkflowState(kind={self.kind.value!r}, raw={self.raw!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (WorkflowState.parse, (self.raw,))


_STATE_CACHE: dict[str, WorkflowState] = {}
_STATE_CACHE_MAX = 1024  # a hostile server cannot grow it without bound


# --------------------------------------------------------------------------------------------
# Workflows
# --------------------------------------------------------------------------------------------


class WorkflowError(_ApiModel):
    """The error attached to a failed workflow or task (spec ``WorkflowError``)."""

    type: str
    message: str
    attribution: str | None = None
    data: Any = None


class WorkflowTask(_ApiModel):
    """One task of a workflow run (spec ``WorkflowTaskInstance``; ids look like ``wft-…``)."""

    id: str
    state: WorkflowState
    tenant: str
    created_at: UtcDatetime | None = None
    ended_at: UtcDatetime | None = None
    execution_type: str | None = None
    label: str | None = None
    run_id: str | None = None
    state_changed_at: UtcDatetime | None = None
    task_definition_id: str | None = None
    task_definition_type: str | None = None
    timeout_ms: int | None = None
    """Amperity's own per-task time limit, in milliseconds, when configured."""
    workflow_id: str | None = None
    error: WorkflowError | None = None

    @property
    def timeout(self) -> timedelta | None:
        """``timeout_ms`` as a timedelta, or None."""
        return None if self.timeout_ms is None else timedelta(milliseconds=self.timeout_ms)

    def runtime(self, now: datetime) -> timedelta | None:
        """How long the task has run (to ``ended_at``, else to ``now``); None if not started.

        Args:
            now: The current time (naive is read as UTC).
        """
        if self.created_at is None:
            return None
        return (self.ended_at or ensure_utc(now)) - self.created_at


class WorkflowRun(_ApiModel):
    """A workflow run (spec ``Workflow``; ids look like ``wf-20240619-14418-6UhqSe``)."""

    id: str
    state: WorkflowState
    type: str
    """E.g. ``courier.group/run``."""
    name: str
    tenant: str
    created_at: KnownUtcDatetime
    """When the run started; None only for a record whose start did not fit (``start_unknown``)."""
    ended_at: UtcDatetime | None = None
    """When the run ended; None while it is active."""
    principal_id: str | None = None
    principal_name: str | None = None
    principal_email: str | None = None
    launched_version: str | None = None
    current_version: str | None = None
    warn_after_ms: int | None = None
    """Amperity's own "running long" threshold, in milliseconds, when the workflow has one."""
    task_instances: list[WorkflowTask] | None = None
    """Only present with ``view=verbose``."""
    error: WorkflowError | None = None

    def runtime(self, now: datetime) -> timedelta | None:
        """How long the run has taken: to ``ended_at`` if it ended, else to ``now``.

        Args:
            now: The current time (naive is read as UTC).

        Returns:
            The elapsed time (never negative), or None when the start is unknown
            (:attr:`start_unknown`): such a run is neither within nor over any limit.
        """
        if self.created_at is None:
            return None
        end = self.ended_at or ensure_utc(now)
        return max(end - self.created_at, timedelta(0))

    @property
    def start_unknown(self) -> bool:
        """True when Amperity sent no usable ``created_at`` (e.g. a queued run: null).

        Such a run must never be stopped, nor counted as within or over an SLA; show it as
        "start unknown".
        """
        return self.created_at is None

    @property
    def warn_after(self) -> timedelta | None:
        """``warn_after_ms`` as a timedelta, or None."""
        return None if self.warn_after_ms is None else timedelta(milliseconds=self.warn_after_ms)

    @property
    def tasks(self) -> list[WorkflowTask]:
        """The task instances (empty unless fetched with ``verbose=True``)."""
        return self.task_instances or []


Workflow = WorkflowRun
"""The spec's name for :class:`WorkflowRun`."""
WorkflowTaskInstance = WorkflowTask
"""The spec's name for :class:`WorkflowTask`."""

RunMode = Literal["source", "refresh", "full"]


class WorkflowRunRequest(BaseModel):
    """The body of ``POST /workflow/runs`` (start a courier group, orchestration or campaign)."""

    model_config = ConfigDict(extra="forbid")

    config_id: str
    range_from: UtcDatetime | None = None
    range_to: UtcDatetime | None = None
    run_mode: RunMode | None = None


# --------------------------------------------------------------------------------------------
# Ingest jobs
# --------------------------------------------------------------------------------------------


class IngestFile(_ApiModel):
    """One file read by an ingest feed (spec ``IngestFileDetails``)."""

    file_id: str
    name: str | None = None
    read: int
    errors: int


class IngestFeed(_ApiModel):
    """One feed (table) of an ingest job, with its counts (spec ``IngestFeedDetails``)."""

    feed_id: str
    job_id: str | None = None
    table_name: str
    state: WorkflowState
    read: int
    errors: int
    rejected: int
    inserted: int
    updated: int
    started_at: UtcDatetime | None = None
    ended_at: UtcDatetime | None = None
    files: list[IngestFile] = Field(default_factory=list)


class IngestJob(_ApiModel):
    """An ingest job and its feeds (spec ``IngestJobDetails``; ids look like ``isj-…``)."""

    id: str
    workflow_id: str | None = None
    tables: list[IngestFeed] = Field(default_factory=list)


IngestFileDetails = IngestFile
"""The spec's name for :class:`IngestFile`."""
IngestFeedDetails = IngestFeed
"""The spec's name for :class:`IngestFeed`."""
IngestJobDetails = IngestJob
"""The spec's name for :class:`IngestJob`."""


# --------------------------------------------------------------------------------------------
# Segments, campaigns, audit events
# --------------------------------------------------------------------------------------------


class Segment(_ApiModel):
    """A segment (spec ``Segment``)."""

    id: str
    name: str
    status: str


class Campaign(_ApiModel):
    """A campaign (spec ``Campaign``)."""

    id: str
    name: str
    deliver_at: UtcDatetime | None = None


class CampaignDraft(_ApiModel):
    """A draft campaign; only served under ``api-version: unstable`` (spec ``CampaignDraft``)."""

    id: str
    name: str
    deliver_at: UtcDatetime | None = None


class AuditEvent(_ApiModel):
    """One audit event (spec ``AuditEvent``).

    The spec marks nearly every field required; only the identifying ones are required here so
    that one sparse event cannot break a whole audit listing.
    """

    event_id: str
    event_type: str
    happened_at: UtcDatetime
    tenant: str | None = None
    tenant_family: str | None = None
    principal_id: str | None = None
    principal_name: str | None = None
    principal_email: str | None = None
    object_id: str | None = None
    object_name: str | None = None
    origin_ip: str | None = None
    user_agent: str | None = None
    session_id: str | None = None


# --------------------------------------------------------------------------------------------
# Profile API (2025-07-31)
# --------------------------------------------------------------------------------------------


class Index(_ApiModel):
    """A profile index (spec ``Index``)."""

    id: str
    name: str
    description: str | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class Profile(_ApiModel):
    """A customer profile in an index (spec ``Profile``)."""

    id: str
    index_id: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    """Attribute name to value (the spec says strings; other JSON values are kept as sent)."""


# --------------------------------------------------------------------------------------------
# Envelopes
# --------------------------------------------------------------------------------------------


class ErrorResponse(_ApiModel):
    """The body of a 4xx/5xx answer. ``request_id``/``trace_id`` are sent though unspecified."""

    status: int | None = None
    message: str | None = None
    request_id: str | None = None
    trace_id: str | None = None


T = TypeVar("T", bound=BaseModel)


class Page(_ApiModel, Generic[T]):
    """One page of any list endpoint: ``{"data": [...], "next_token": ..., "total": ...}``."""

    data: list[T]
    """Required: an answer without a ``data`` list is not a page (an error for that request)."""
    next_token: str | None = None
    """Absent or empty on the last page."""
    total: int | None = None
    """Only present when the request asked ``with_total=true``."""

    @property
    def odd_records(self) -> int:
        """Items of this page that did not fit their model (flagged, or dropped)."""
        odd: int = _private(self, "_odd", 0)
        return odd

    @property
    def dropped_records(self) -> int:
        """Items left out: not an object, or their id did not fit (counted in odd_records)."""
        dropped: int = _private(self, "_dropped", 0)
        return dropped


WorkflowList = Page[WorkflowRun]
IngestJobDetailsList = Page[IngestJob]
SegmentList = Page[Segment]
CampaignList = Page[Campaign]
CampaignDraftList = Page[CampaignDraft]
AuditEventList = Page[AuditEvent]
IndexListResponse = Page[Index]
ProfileListResponse = Page[Profile]
