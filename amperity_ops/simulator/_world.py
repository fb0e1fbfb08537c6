"""One simulated tenant's world: workflow runs, ingest jobs and the tenant's catalog.

The world is lazy: nothing happens on a timer. Whenever it is read it first catches up with
its clock (``advance``): scheduled workflows that should have started are created, runs whose
planned end has passed become terminal. Every scheduled run draws its fate from an RNG seeded
by (tenant seed, workflow, fire time), so the world at a given time does not depend on how
often, or in which steps, it was read.

Indexes keep listing fast at scale (100,000 runs of history, 1,000 active): runs sit in a list
sorted by ``(created_at, id)`` (pages are a bisect plus a short scan) and active runs have their
own sorted list, so ``state=running`` never scans finished history.
"""

from __future__ import annotations

import bisect
import heapq
import json
import random
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from amperity_ops.simulator._catalog import (
    CUSTOMER_ERRORS,
    CUSTOMER_ERRORS_BY_TYPE,
    DEFAULT_CATALOG,
    GENERIC_TASKS,
    PLATFORM_ERRORS,
    TASK_TYPES_BY_WORKFLOW_TYPE,
    TaskTemplate,
    WorkflowDefinition,
)
from amperity_ops.simulator._clock import Clock
from amperity_ops.simulator._ids import dated_id, seeded, short_id, token
from amperity_ops.simulator._timeutil import iso, to_epoch

#: States after which a run never changes again (wire spelling, lowercase).
TERMINAL_STATES = frozenset({"succeeded", "failed", "stopped", "skipped", "canceled"})
#: States in which a stop request is accepted but changes nothing.
STOPPING_STATES = frozenset({"stopping", "canceling"})

RunKey = tuple[float, str]

_AUTOMATED = ("amperity|scheduler", "Automated workflow", "scheduler@amperity.com")


class StopRefusedError(Exception):
    """A stop was asked for a run that has already finished."""

    def __init__(self, run_id: str, state: str) -> None:
        super().__init__(f"Workflow {run_id} is already {state} and cannot be stopped.")
        self.run_id = run_id
        self.state = state


class UnknownConfigError(Exception):
    """``POST /workflow/runs`` named a config id the tenant does not have."""


def _error(pair: tuple[str, str], attribution: str) -> dict[str, Any]:
    return {"type": pair[0], "message": pair[1], "attribution": attribution}


def error_for(
    kind: str | dict[str, Any] | None,
    rng: random.Random,
    workflow_type: str = "",
) -> dict[str, Any] | None:
    """Turn ``"customer"``/``"platform"``/a dict/None into a workflow error body."""
    if kind is None or isinstance(kind, dict):
        return kind
    if kind == "customer":
        choices = CUSTOMER_ERRORS_BY_TYPE.get(workflow_type, CUSTOMER_ERRORS)
        return _error(rng.choice(choices), "customer")
    if kind == "platform":
        return _error(rng.choice(PLATFORM_ERRORS), "platform")
    raise ValueError(f"error must be 'customer', 'platform', a dict or None, got {kind!r}")


class SimRun:
    """A workflow run whose state is a function of time.

    ``phases`` lists ``(epoch, state)`` changes while active; ``end`` is when the run becomes
    ``final_state`` (None: it stays active until a test or a stop changes it).
    """

    __slots__ = (
        "_active_json",
        "_created_iso",
        "_json",
        "_wire",
        "config_id",
        "created",
        "end",
        "error",
        "failed_task",
        "final_state",
        "id",
        "launched_version",
        "name",
        "phases",
        "planned_end",
        "principal",
        "stopped_at",
        "tasks",
        "tenant",
        "timeout_ms",
        "type",
        "warn_after_ms",
    )

    def __init__(
        self,
        *,
        run_id: str,
        name: str,
        type: str,
        config_id: str,
        tenant: str,
        created: float,
        phases: tuple[tuple[float, str], ...],
        end: float | None,
        final_state: str,
        planned_end: float,
        error: dict[str, Any] | None = None,
        warn_after_ms: int | None = None,
        principal: tuple[str, str, str] = _AUTOMATED,
        launched_version: str = "",
        tasks: tuple[TaskTemplate, ...] = GENERIC_TASKS,
        failed_task: int | None = None,
        timeout_ms: int | None = None,
    ) -> None:
        self.id = run_id
        self.name = name
        self.type = type
        self.config_id = config_id
        self.tenant = tenant
        self.created = created
        self.phases = phases
        self.end = end
        self.final_state = final_state
        self.planned_end = planned_end
        self.error = error
        self.warn_after_ms = warn_after_ms
        self.principal = principal
        self.launched_version = launched_version
        self.tasks = tasks
        self.failed_task = failed_task
        self.timeout_ms = timeout_ms
        self.stopped_at: float | None = None
        self._wire: dict[str, Any] | None = None
        self._json: bytes | None = None
        self._active_json: tuple[str, bytes] | None = None
        self._created_iso: str | None = None

    @property
    def key(self) -> RunKey:
        """The sort key: runs are listed newest first by (created_at, id)."""
        return (self.created, self.id)

    def state_at(self, t: float) -> str:
        """The wire state (lowercase) at epoch time ``t``."""
        if self.end is not None and t >= self.end:
            return self.final_state
        state = self.phases[0][1]
        for ts, phase_state in self.phases:
            if ts > t:
                break
            state = phase_state
        return state

    def ended_at(self, t: float) -> float | None:
        """The end time if the run has ended by ``t``."""
        if self.end is not None and t >= self.end:
            return self.end
        return None

    def is_terminal_at(self, t: float) -> bool:
        """Whether the run has reached its final state by ``t``."""
        return self.end is not None and t >= self.end

    def to_wire(self, t: float, *, verbose: bool = False) -> dict[str, Any]:
        """The run as the API returns it at time ``t`` (``view=verbose`` adds tasks)."""
        terminal = self.is_terminal_at(t)
        if terminal and self._wire is not None and not verbose:
            return self._wire
        body: dict[str, Any] = {
            "id": self.id,
            "state": self.state_at(t),
            "type": self.type,
            "name": self.name,
            "tenant": self.tenant,
            "created_at": self.created_iso,
        }
        if terminal and self.end is not None:
            body["ended_at"] = iso(self.end)
        body["principal_id"], body["principal_name"], body["principal_email"] = self.principal
        body["launched_version"] = self.launched_version
        body["current_version"] = self.launched_version
        if self.warn_after_ms is not None:
            body["warn_after_ms"] = self.warn_after_ms
        if terminal and self.error is not None and self.final_state == "failed":
            body["error"] = self.error
        if terminal:
            self._wire = body
        if verbose:
            body = {**body, "task_instances": self.task_instances(t)}
        return body

    def to_json(self, t: float) -> bytes:
        """The overview body as JSON bytes; cached once the run is terminal (list pages)."""
        terminal = self.is_terminal_at(t)
        if terminal and self._json is not None:
            return self._json
        # While active, the body changes only with the state: cache it per state.
        state = "" if terminal else self.state_at(t)
        if not terminal and self._active_json is not None and self._active_json[0] == state:
            return self._active_json[1]
        encoded = json.dumps(self.to_wire(t), separators=(",", ":"), ensure_ascii=False).encode()
        if terminal:
            self._json = encoded
        else:
            self._active_json = (state, encoded)
        return encoded

    @property
    def created_iso(self) -> str:
        """``created_at`` as the API spells it (cached: formatting dates is not free)."""
        if self._created_iso is None:
            self._created_iso = iso(self.created)
        return self._created_iso

    def forget_cache(self) -> None:
        """Drop cached bodies after the run was changed by hand."""
        self._wire = None
        self._json = None
        self._active_json = None

    def task_instances(self, t: float) -> list[dict[str, Any]]:
        """The verbose view's tasks at ``t``, laid out evenly over the planned runtime."""
        templates = self.tasks or GENERIC_TASKS
        count = len(templates)
        span_end = self.planned_end if self.end is not None else max(self.planned_end, t + 60)
        span = max(span_end - self.created, 1.0)
        bounds = [self.created + span * i / count for i in range(count + 1)]
        run_state = self.state_at(t)
        rng = seeded(self.id, "tasks")
        tasks: list[dict[str, Any]] = []
        for index, template in enumerate(templates):
            start, planned_stop = bounds[index], bounds[index + 1]
            task: dict[str, Any] = {
                "id": dated_id("wft", start, rng),
                "tenant": self.tenant,
                "workflow_id": self.id,
                "label": template.label,
                "task_definition_type": template.task_type,
                "task_definition_id": f"{template.task_type.split('.')[0]}/{short_id('ct', rng)}",
                "execution_type": template.execution_type,
                "run_id": f"orb-{iso(start)[:10].replace('-', '')}-{token(rng, 11)}",
            }
            if self.timeout_ms is not None:
                task["timeout_ms"] = self.timeout_ms
            finished_run_end = self.ended_at(t)
            if self.stopped_at is not None and start >= self.stopped_at:
                task["state"] = self.final_state if finished_run_end is not None else run_state
            elif finished_run_end is not None and finished_run_end < start:
                task["state"] = "skipped"
            elif t < start:
                task["state"] = "scheduled"
            elif finished_run_end is not None and (
                finished_run_end < planned_stop or index == count - 1
            ):
                # The run ended during this task: the task shares the run's fate.
                task["state"] = self.final_state
                task["created_at"] = iso(start)
                task["ended_at"] = task["state_changed_at"] = iso(finished_run_end)
                if self.final_state == "failed" and self.error is not None:
                    task["error"] = self.error
            elif t < planned_stop or (index == count - 1 and finished_run_end is None):
                shared = ("paused", "running with failures", "finalizing", "stopping",
                          "canceling")
                task["state"] = run_state if run_state in shared else "running"
                task["created_at"] = iso(start)
            else:
                failed_here = self.failed_task == index
                task["state"] = "failed" if failed_here else "succeeded"
                task["created_at"] = iso(start)
                task["ended_at"] = task["state_changed_at"] = iso(planned_stop)
                if failed_here and self.error is not None:
                    task["error"] = self.error
            tasks.append(task)
        return tasks

    def __repr__(self) -> str:
        return f"SimRun({self.id!r}, name={self.name!r}, type={self.type!r})"


@dataclass
class FeedPlan:
    """One feed (table) of an ingest job, with its counts."""

    feed_id: str
    table_name: str
    state: str
    read: int
    errors: int
    rejected: int
    inserted: int
    updated: int
    files: list[tuple[str, str, int, int]]
    start_offset: float


class SimIngestJob:
    """An ingest job belonging to a courier run; visible once its load phase is over."""

    __slots__ = ("created", "feeds", "id", "ingest_done", "run")

    def __init__(self, *, job_id: str, run: SimRun, feeds: list[FeedPlan], ingest_done: float):
        self.id = job_id
        self.run = run
        self.created = run.created
        self.feeds = feeds
        self.ingest_done = ingest_done

    def visible_at(self) -> float:
        """When the job appears: when loading ends, or earlier if the run ended first."""
        if self.run.end is not None and self.run.end < self.ingest_done:
            return self.run.end
        return self.ingest_done

    def to_wire(self) -> dict[str, Any]:
        """The job as ``GET /ingest/jobs`` returns it."""
        ended = self.visible_at()
        cut_short = ended < self.ingest_done
        tables = []
        for feed in self.feeds:
            tables.append(
                {
                    "feed_id": feed.feed_id,
                    "job_id": self.id,
                    "table_name": feed.table_name,
                    "state": self.run.final_state if cut_short else feed.state,
                    "read": feed.read,
                    "errors": feed.errors,
                    "rejected": feed.rejected,
                    "inserted": feed.inserted,
                    "updated": feed.updated,
                    "started_at": iso(min(self.created + feed.start_offset, ended)),
                    "ended_at": iso(ended),
                    "files": [
                        {"file_id": file_id, "name": name, "read": read, "errors": errors}
                        for file_id, name, read, errors in feed.files
                    ],
                }
            )
        return {"id": self.id, "workflow_id": self.run.id, "tables": tables}


def _make_feeds(rng: random.Random, tables: Sequence[str], job_id: str) -> list[FeedPlan]:
    feeds = []
    for index, table in enumerate(tables):
        files = []
        read_total = errors_total = 0
        for part in range(rng.randint(1, 3)):
            read = rng.randint(500, 50_000)
            errors = rng.choice((0, 0, 0, rng.randint(1, max(1, read // 50))))
            files.append((f"cb-{job_id[4:]}/{table.lower()}/part{part}.avro",
                          f"part{part}.avro", read, errors))
            read_total += read
            errors_total += errors
        rejected = rng.choice((0, 0, rng.randint(0, max(1, read_total // 100))))
        loaded = read_total - errors_total - rejected
        inserted = int(loaded * rng.uniform(0.1, 0.6))
        feeds.append(
            FeedPlan(
                feed_id=short_id("df", rng, 8),
                table_name=table,
                state="failed" if errors_total > read_total // 60 else "succeeded",
                read=read_total,
                errors=errors_total,
                rejected=rejected,
                inserted=inserted,
                updated=loaded - inserted,
                files=files,
                start_offset=5.0 * index,
            )
        )
    return feeds


@dataclass(frozen=True)
class _Catalog:
    segments: list[dict[str, Any]]
    campaigns: list[dict[str, Any]]
    campaign_templates: dict[str, str]
    drafts: list[dict[str, Any]]
    indexes: list[dict[str, Any]]


_FIRST = ("Daniel", "Maria", "Wei", "Aisha", "Jonas", "Priya", "Lucas", "Emma", "Kenji", "Sofia")
_LAST = ("Kuhlman", "Smith", "Garcia", "Chen", "Okafor", "Nielsen", "Patel", "Rossi", "Kim")
_SEGMENTS = ("Returning Customers", "High Value Shoppers", "Lapsed 90 Days", "Loyalty Gold",
             "Email Subscribers", "Cart Abandoners", "New This Month", "VIP West Coast",
             "Churn Risk", "Holiday Buyers", "Outlet Shoppers", "App Users")
_CAMPAIGNS = ("Holiday Campaign", "Winback Campaign", "Spring Launch", "Loyalty Double Points",
              "Birthday Offer", "Back In Stock", "Welcome Series", "Black Friday Early Access")
_INDEXES = ("loyalty_members", "all_customers", "email_subscribers")


def _build_catalog(seed: int, tenant: str, now: float) -> _Catalog:
    rng = seeded(seed, tenant, "catalog")
    segments = [
        {"id": short_id("seg", rng), "name": name,
         "status": "active" if rng.random() < 0.8 else "inactive"}
        for name in _SEGMENTS
    ]
    templates = [short_id("ptg", rng) for _ in range(3)]
    campaigns, campaign_templates = [], {}
    for index, name in enumerate(_CAMPAIGNS):
        campaign_id = "cc-21HCWon6Y" if index == 0 else short_id("cc", rng)
        campaigns.append({"id": campaign_id, "name": name,
                          "deliver_at": iso(now + rng.uniform(-30, 30) * 86400)})
        campaign_templates[campaign_id] = templates[index % len(templates)]
    drafts = [
        {"id": short_id("cc", rng), "name": f"{name} Draft",
         "deliver_at": iso(now + rng.uniform(1, 45) * 86400)}
        for name in _CAMPAIGNS[:4]
    ]
    for index, draft in enumerate(drafts):
        campaign_templates[draft["id"]] = templates[index % len(templates)]
    # The first index and its first profile carry the ids of the spec's examples.
    indexes = [
        {"id": "idx-xyz789" if name == "loyalty_members" else short_id("idx", rng, 6),
         "name": name, "description": f"Profiles of {name}",
         "created_at": iso(now - 200 * 86400), "updated_at": iso(now - rng.uniform(0, 2) * 86400)}
        for name in _INDEXES
    ]
    return _Catalog(segments, campaigns, campaign_templates, drafts, indexes)


def _make_profiles(seed: int, index_id: str, count: int) -> list[dict[str, Any]]:
    rng = seeded(seed, index_id, "profiles")
    profiles: list[dict[str, Any]] = []
    if index_id == "idx-xyz789":
        profiles.append({"id": "cl-abc123", "index_id": index_id, "attributes": {
            "first_name": "Daniel", "last_name": "Kuhlman", "email": "danielkuhlman@email.com",
            "loyalty_id": "123456789-0", "city": "Seattle"}})
    while len(profiles) < count:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        profiles.append(
            {
                "id": short_id("cl", rng, 6),
                "index_id": index_id,
                "attributes": {
                    "first_name": first,
                    "last_name": last,
                    "email": f"{first.lower()}{last.lower()}{rng.randint(1, 999)}@email.com",
                    "loyalty_id": f"{rng.randint(100000000, 999999999)}-0",
                    "city": rng.choice(("Seattle", "Austin", "Denver", "Boston", "Portland")),
                },
            }
        )
    return profiles


_AUDIT_TYPES = (
    (":amperity.segment/updated", "seg"),
    (":amperity.query.exec/sampled", "qry"),
    (":amperity.query.folder/created", "qf"),
    (":amperity.alert.audience/created", "aud"),
    (":amperity.audit.user-activity/download", "ua"),
    (":amperity.campaign/updated", "cc"),
)
_PEOPLE = (("google-apps|jscott@{t}.com", "Justin Scott", "jscott@{t}.com"),
           ("google-apps|mlee@{t}.com", "Mina Lee", "mlee@{t}.com"),
           ("google-apps|opratt@{t}.com", "Owen Pratt", "opratt@{t}.com"))


class TenantWorld:
    """The state of one simulated tenant; every public method is thread-safe.

    Obtain it with ``Simulator.tenant(tenant_id)``; the helpers ``add_run``, ``set_run_state``,
    ``finish_run``, ``add_history`` and ``add_ingest_job`` place the world in a chosen state
    for tests.
    """

    def __init__(
        self,
        *,
        tenant_id: str,
        seed: int,
        clock: Clock,
        schedules: bool,
        history_days: float,
        workflows: Sequence[WorkflowDefinition] | None,
        stop_delay: timedelta,
        cancel_types: Sequence[str] = (),
        history_runs: int = 0,
        active_runs: int = 0,
        profiles_per_index: int = 300,
    ) -> None:
        self.tenant_id = tenant_id
        self.seed = seed
        self._clock = clock
        self._lock = threading.RLock()
        self.stop_delay = stop_delay
        self.cancel_types = frozenset(cancel_types)
        self.definitions: tuple[WorkflowDefinition, ...] = tuple(workflows or DEFAULT_CATALOG)
        self._by_config = {d.config_id: d for d in self.definitions}
        self._runs: dict[str, SimRun] = {}
        self._order: list[RunKey] = []
        self._active: dict[str, SimRun] = {}
        self._active_order: list[RunKey] = []
        # Finished runs by final state: a terminal-state filter never scans other runs.
        self._finished_by_state: dict[str, list[RunKey]] = {}
        self._ends: list[tuple[float, str]] = []
        self._jobs: dict[str, SimIngestJob] = {}
        self._job_order: list[tuple[float, str]] = []
        self._audit: list[dict[str, Any]] = []
        self._audit_order: list[tuple[float, str]] = []
        self._manual_count = 0
        self._profiles: dict[str, list[dict[str, Any]]] = {}
        self._profiles_per_index = profiles_per_index
        now = to_epoch(clock.now())
        self.created_at = now
        self._history_start = now - history_days * 86400
        self._catalog = _build_catalog(seed, tenant_id, now)
        self.schedules = schedules
        self._next_fire: dict[str, float] = {}
        if schedules:
            for definition in self.definitions:
                every = definition.every.total_seconds()
                if every > 0:
                    self._next_fire[definition.config_id] = self._first_fire(definition)
        self._next_audit = self._history_start if schedules else float("inf")
        self._advanced_to = self._history_start
        if history_runs or active_runs:
            self.add_history(history_runs, active=active_runs)
        self.advance()

    # ----------------------------------------------------------------- time
    def now(self) -> float:
        """The tenant clock's current time in epoch seconds."""
        return to_epoch(self._clock.now())

    def advance(self) -> float:
        """Catch the world up with the clock; returns the current epoch time."""
        now = to_epoch(self._clock.now())
        with self._lock:
            if now <= self._advanced_to and not (self._ends and self._ends[0][0] <= now):
                return now
            self._fire_schedules(now)
            self._emit_audit_events(now)
            self._finish_due(now)
            self._advanced_to = max(self._advanced_to, now)
        return now

    def _first_fire(self, definition: WorkflowDefinition) -> float:
        every = definition.every.total_seconds()
        offset = definition.offset.total_seconds()
        cycles = (self._history_start - offset) // every
        fire = cycles * every + offset
        return fire if fire >= self._history_start else fire + every

    def _fire_schedules(self, now: float) -> None:
        for config_id, fire in list(self._next_fire.items()):
            definition = self._by_config[config_id]
            every = definition.every.total_seconds()
            while fire <= now:
                self._insert(self._scheduled_run(definition, fire))
                fire += every
            self._next_fire[config_id] = fire

    def _finish_due(self, now: float) -> None:
        while self._ends and self._ends[0][0] <= now:
            end, run_id = heapq.heappop(self._ends)
            run = self._runs.get(run_id)
            if run is None or run.end != end or run_id not in self._active:
                continue  # a stale entry: the run was stopped or changed since
            del self._active[run_id]
            _remove_key(self._active_order, run.key)
            bisect.insort(self._finished_by_state.setdefault(run.final_state, []), run.key)

    def _emit_audit_events(self, now: float) -> None:
        while self._next_audit <= now:
            at = self._next_audit
            rng = seeded(self.seed, self.tenant_id, "audit", int(at))
            event_type, prefix = rng.choice(_AUDIT_TYPES)
            person = rng.choice(_PEOPLE)
            self._add_audit(at, event_type, short_id(prefix, rng), rng.choice(_SEGMENTS),
                            tuple(p.format(t=self.tenant_id) for p in person), rng)
            self._next_audit = at + rng.uniform(20, 150) * 60

    def _add_audit(
        self,
        at: float,
        event_type: str,
        object_id: str,
        object_name: str,
        principal: tuple[str, ...],
        rng: random.Random,
    ) -> None:
        event = {
            "event_id": short_id("ae", rng, 8),
            "event_type": event_type,
            "tenant": self.tenant_id,
            "tenant_family": self.tenant_id.split("-sb")[0],
            "happened_at": iso(at),
            "principal_id": principal[0],
            "principal_name": principal[1],
            "principal_email": principal[2],
            "object_id": object_id,
            "object_name": object_name,
            "origin_ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "user_agent": rng.choice(("Mozilla/5.0 (Macintosh)", "amperity-ops/0.1", "curl/8.5")),
            "session_id": token(rng, 32),
        }
        key = (at, event["event_id"])
        index = bisect.bisect_left(self._audit_order, key)
        self._audit_order.insert(index, key)
        self._audit.insert(index, event)

    # ------------------------------------------------------------ creation
    def _insert(self, run: SimRun, *, sort: bool = True) -> None:
        self._runs[run.id] = run
        if sort:
            bisect.insort(self._order, run.key)
        else:
            self._order.append(run.key)
        # Every new run starts active; one whose end has passed leaves at the next advance.
        self._active[run.id] = run
        if sort:
            bisect.insort(self._active_order, run.key)
        else:
            self._active_order.append(run.key)
        if run.end is not None:
            heapq.heappush(self._ends, (run.end, run.id))

    def _scheduled_run(self, definition: WorkflowDefinition, fire: float) -> SimRun:
        rng = seeded(self.seed, self.tenant_id, definition.config_id, int(fire))
        created = fire + rng.uniform(0.0, 20.0)
        run_id = dated_id("wf", created, rng)
        base = definition.duration.total_seconds() * rng.uniform(0.7, 1.3)
        phases, end, final_state, error, failed_task = _plan_outcome(
            rng, created, base, definition, len(definition.tasks or GENERIC_TASKS)
        )
        run = SimRun(
            run_id=run_id,
            name=definition.name,
            type=definition.type,
            config_id=definition.config_id,
            tenant=self.tenant_id,
            created=created,
            phases=phases,
            end=end,
            final_state=final_state,
            planned_end=end,
            error=error,
            warn_after_ms=_ms(definition.warn_after),
            launched_version=dated_id("etv", created, rng),
            tasks=definition.tasks or GENERIC_TASKS,
            failed_task=failed_task,
            timeout_ms=max(3_600_000, int(base * 4000)),
        )
        if definition.ingest_tables:
            self._add_job_for(run, rng, definition.ingest_tables)
        return run

    def _add_job_for(
        self, run: SimRun, rng: random.Random, tables: Sequence[str]
    ) -> SimIngestJob:
        job_id = dated_id("isj", run.created, rng)
        ingest_done = run.created + 0.4 * (run.planned_end - run.created)
        job = SimIngestJob(job_id=job_id, run=run, feeds=_make_feeds(rng, tables, job_id),
                           ingest_done=ingest_done)
        self._jobs[job_id] = job
        bisect.insort(self._job_order, (job.created, job_id))
        return job

    def _manual_rng(self) -> random.Random:
        self._manual_count += 1
        return seeded(self.seed, self.tenant_id, "manual", self._manual_count)

    def add_run(
        self,
        *,
        name: str = "Manual Workflow",
        type: str = "courier.group/run",
        state: str = "running",
        started_ago: timedelta | float = timedelta(minutes=5),
        ended_ago: timedelta | float | None = None,
        finishes_in: timedelta | float | None = None,
        final_state: str = "succeeded",
        warn_after_ms: int | None = None,
        error: str | dict[str, Any] | None = None,
        config_id: str | None = None,
        run_id: str | None = None,
        principal_name: str | None = None,
        ingest_tables: Sequence[str] | None = None,
    ) -> SimRun:
        """Place one run in a chosen state (for tests and demos).

        Args:
            name: Workflow name.
            type: Workflow type (``courier.group/run``, ``campaign.send`` ...).
            state: Wire state now. A terminal one (succeeded/failed/stopped/skipped/canceled)
                makes a finished run; any other text (even one Amperity has not documented)
                makes an active run that stays in that state until told otherwise.
            started_ago: How long ago the run started (``created_at``).
            ended_ago: For terminal states, how long ago it ended (default: now).
            finishes_in: For active states, end in ``final_state`` after this long
                (default: never, until ``finish_run``/``set_run_state``/a stop).
            final_state: The state reached after ``finishes_in``.
            warn_after_ms: Amperity's running-long threshold to report on the run.
            error: ``"customer"``, ``"platform"``, a full error dict, or None. Failed runs
                get a customer error by default.
            config_id: Config id (defaults to a fresh ``cg-`` id).
            run_id: Exact run id (default: a fresh ``wf-YYYYMMDD-NNNNN-XXXXXX`` id).
            principal_name: Who started it (default: ``Automated workflow``).
            ingest_tables: Tables for an ingest job attached to the run (default: two tables
                for courier groups, none otherwise).

        Returns:
            The run; read ``.id``, and its state with ``TenantWorld.state_of(run.id)``.
        """
        state = state.lower()
        with self._lock:
            now = self.advance()
            rng = self._manual_rng()
            created = now - _seconds(started_ago)
            if state in TERMINAL_STATES:
                end: float | None = now - _seconds(ended_ago) if ended_ago is not None else now
                assert end is not None
                if end < created:
                    raise ValueError("ended_ago must be smaller than started_ago")
                final = state
                phases: tuple[tuple[float, str], ...] = ((created, "running"),)
            else:
                end = now + _seconds(finishes_in) if finishes_in is not None else None
                final = final_state.lower()
                phases = ((created, state),)
            if final == "failed" and error is None:
                error = "customer"
            new_id = run_id or dated_id("wf", created, rng)
            if new_id in self._runs:
                raise ValueError(f"run id {new_id} already exists")
            principal = _AUTOMATED
            if principal_name:
                slug = principal_name.lower().replace(" ", ".")
                principal = (f"google-apps|{slug}@{self.tenant_id}.com", principal_name,
                             f"{slug}@{self.tenant_id}.com")
            run = SimRun(
                run_id=new_id,
                name=name,
                type=type,
                config_id=config_id or short_id("cg", rng),
                tenant=self.tenant_id,
                created=created,
                phases=phases,
                end=end,
                final_state=final,
                planned_end=end if end is not None else max(now, created + 60),
                error=error_for(error, rng, type),
                warn_after_ms=warn_after_ms,
                principal=principal,
                launched_version=dated_id("etv", created, rng),
                tasks=TASK_TYPES_BY_WORKFLOW_TYPE.get(type, GENERIC_TASKS),
                timeout_ms=172_800_000,
            )
            self._insert(run)
            tables = ingest_tables
            if tables is None and type == "courier.group/run":
                tables = ("Orders", "Customers")
            if tables:
                self._add_job_for(run, rng, tables)
            self._finish_due(now)
            return run

    def add_history(
        self,
        count: int,
        *,
        active: int = 0,
        days: float = 90.0,
    ) -> None:
        """Bulk-add finished runs spread over the past ``days`` (and ``active`` running ones).

        Meant for scale tests and benchmarks: 100,000 runs take about a second. Bulk runs
        have no ingest jobs. Deterministic given the tenant seed and the counts.

        Args:
            count: How many finished runs to add.
            active: How many runs to add that are running now and never end on their own.
            days: How far back the finished runs reach.
        """
        rng = seeded(self.seed, self.tenant_id, "bulk", count, active)
        with self._lock:
            now = to_epoch(self._clock.now())
            runs = []
            seen: set[str] = set()
            states = ("succeeded",) * 90 + ("failed",) * 6 + ("stopped", "skipped") * 2
            for index in range(count + active):
                definition = self.definitions[index % len(self.definitions)]
                created = now - rng.uniform(60.0, days * 86400)
                is_active = index >= count
                if is_active:
                    created = now - rng.uniform(60.0, 6 * 3600)
                duration = definition.duration.total_seconds() * rng.uniform(0.5, 1.5)
                end = None if is_active else min(created + duration, now - 1)
                final = "succeeded" if is_active else states[rng.randrange(len(states))]
                run_id = dated_id("wf", created, rng)
                if run_id in self._runs or run_id in seen:
                    continue
                seen.add(run_id)
                runs.append(
                    SimRun(
                        run_id=run_id,
                        name=definition.name,
                        type=definition.type,
                        config_id=definition.config_id,
                        tenant=self.tenant_id,
                        created=created,
                        phases=((created, "running"),),
                        end=end,
                        final_state=final,
                        planned_end=end if end is not None else created + duration,
                        error=(error_for("customer", rng, definition.type)
                               if final == "failed" else None),
                        warn_after_ms=_ms(definition.warn_after),
                        launched_version=f"etv-{run_id[3:]}",
                        tasks=definition.tasks or GENERIC_TASKS,
                    )
                )
            touched: set[str] = set()
            for run in runs:
                self._runs[run.id] = run
                self._order.append(run.key)
                if run.end is None:
                    self._active[run.id] = run
                    self._active_order.append(run.key)
                else:
                    self._finished_by_state.setdefault(run.final_state, []).append(run.key)
                    touched.add(run.final_state)
            self._order.sort()
            self._active_order.sort()
            for state in touched:
                self._finished_by_state[state].sort()

    def add_ingest_job(
        self,
        *,
        run_id: str | None = None,
        tables: Sequence[str] = ("Orders",),
        started_ago: timedelta | float = timedelta(minutes=30),
    ) -> SimIngestJob:
        """Attach an ingest job to a run (a new finished courier run when ``run_id`` is None).

        Returns:
            The job; ``.id`` is its ``isj-`` id, ``.feeds`` its tables and counts.
        """
        with self._lock:
            if run_id is None:
                run = self.add_run(name="Manual Courier", state="succeeded",
                                   started_ago=started_ago, ingest_tables=())
            else:
                run = self.get_run(run_id)
            return self._add_job_for(run, self._manual_rng(), tables)

    def start_run(
        self,
        config_id: str,
        *,
        principal: tuple[str, str, str] = _AUTOMATED,
    ) -> SimRun:
        """Start a workflow from its config id, as ``POST /workflow/runs`` does.

        Raises:
            UnknownConfigError: If the tenant has no workflow with that config id.
        """
        definition = self._by_config.get(config_id)
        if definition is None:
            raise UnknownConfigError(config_id)
        with self._lock:
            now = self.advance()
            rng = self._manual_rng()
            base = definition.duration.total_seconds() * rng.uniform(0.7, 1.3)
            phases = ((now, "running"), (now + 0.9 * base, "finalizing"))
            run = SimRun(
                run_id=dated_id("wf", now, rng),
                name=definition.name,
                type=definition.type,
                config_id=config_id,
                tenant=self.tenant_id,
                created=now,
                phases=phases,
                end=now + base,
                final_state="succeeded",
                planned_end=now + base,
                warn_after_ms=_ms(definition.warn_after),
                principal=principal,
                launched_version=dated_id("etv", now, rng),
                tasks=definition.tasks or GENERIC_TASKS,
                timeout_ms=max(3_600_000, int(base * 4000)),
            )
            self._insert(run)
            if definition.ingest_tables:
                self._add_job_for(run, rng, definition.ingest_tables)
            self._add_audit(now, ":amperity.workflow/started", run.id, run.name, principal, rng)
            return run

    # ------------------------------------------------------------- changes
    def stop_run(self, run_id: str, *, principal: tuple[str, str, str] = _AUTOMATED) -> SimRun:
        """Ask a run to stop: ``stopping`` now, ``stopped`` after the tenant's stop delay.

        Workflow types in ``cancel_types`` read ``canceling``/``canceled`` instead. Stopping a
        run that is already stopping changes nothing.

        Raises:
            KeyError: If there is no such run.
            StopRefusedError: If the run has already finished.
        """
        with self._lock:
            now = self.advance()
            run = self.get_run(run_id)
            state = run.state_at(now)
            if state in TERMINAL_STATES:
                raise StopRefusedError(run_id, state)
            if state in STOPPING_STATES:
                return run
            # Some workflow types say canceling/canceled instead (NOTES.md lists both).
            cancels = run.type in self.cancel_types
            run.phases = (*(p for p in run.phases if p[0] <= now),
                          (now, "canceling" if cancels else "stopping"))
            run.stopped_at = now
            run.end = now + self.stop_delay.total_seconds()
            run.final_state = "canceled" if cancels else "stopped"
            run.error = None
            run.forget_cache()
            heapq.heappush(self._ends, (run.end, run.id))
            self._add_audit(now, ":amperity.workflow/stopped", run.id, run.name, principal,
                            self._manual_rng())
            return run

    def set_run_state(
        self,
        run_id: str,
        state: str,
        *,
        error: str | dict[str, Any] | None = None,
    ) -> SimRun:
        """Force a run into ``state`` now (terminal states end it now)."""
        state = state.lower()
        with self._lock:
            now = self.advance()
            run = self.get_run(run_id)
            run.forget_cache()
            if run.id not in self._active:
                # A finished run changes again: take it out of the finished index first.
                _remove_key(self._finished_by_state.get(run.final_state, []), run.key)
                self._active[run.id] = run
                bisect.insort(self._active_order, run.key)
            if state in TERMINAL_STATES:
                run.phases = tuple(p for p in run.phases if p[0] <= now) or run.phases[:1]
                run.end = now
                run.final_state = state
                if state == "failed":
                    run.error = error_for(error or "customer", self._manual_rng(), run.type)
                heapq.heappush(self._ends, (now, run.id))
                self._finish_due(now)
            else:
                run.phases = (*(p for p in run.phases if p[0] <= now), (now, state))
                run.end = None
            return run

    def finish_run(
        self,
        run_id: str,
        state: str = "succeeded",
        *,
        error: str | dict[str, Any] | None = None,
    ) -> SimRun:
        """End a run now in ``state`` (succeeded by default)."""
        if state.lower() not in TERMINAL_STATES:
            raise ValueError(f"finish_run needs a terminal state, got {state!r}")
        return self.set_run_state(run_id, state, error=error)

    # -------------------------------------------------------------- reading
    def get_run(self, run_id: str) -> SimRun:
        """The run with this id.

        Raises:
            KeyError: If there is none.
        """
        self.advance()
        try:
            return self._runs[run_id]
        except KeyError:
            raise KeyError(f"no workflow run {run_id!r} in tenant {self.tenant_id}") from None

    def state_of(self, run_id: str) -> str:
        """The run's wire state now."""
        now = self.advance()
        return self.get_run(run_id).state_at(now)

    def run_json(self, run_id: str, *, verbose: bool = False) -> dict[str, Any]:
        """The run as the API would return it now."""
        now = self.advance()
        return self.get_run(run_id).to_wire(now, verbose=verbose)

    @property
    def run_count(self) -> int:
        """How many runs the tenant holds (all states)."""
        return len(self._runs)

    @property
    def active_count(self) -> int:
        """How many runs are not yet terminal."""
        self.advance()
        return len(self._active)

    def runs(self, *, state: str | None = None, type: str | None = None) -> list[SimRun]:
        """All runs, newest first, optionally filtered by wire state and type."""
        now = self.advance()
        page, _, _ = self.list_runs(state=state, type=type, limit=len(self._runs) + 1, now=now)
        return page

    def list_runs(
        self,
        *,
        created_from: float | None = None,
        created_to: float | None = None,
        ended_from: float | None = None,
        ended_to: float | None = None,
        state: str | None = None,
        type: str | None = None,
        after: RunKey | None = None,
        limit: int = 25,
        with_total: bool = False,
        now: float | None = None,
    ) -> tuple[list[SimRun], RunKey | None, int | None]:
        """One page of runs, newest first.

        Args:
            now: The time to evaluate states at (default: advance to the clock's now).

        Returns:
            (runs, key of the last run if another page follows, total if asked).
        """
        now = self.advance() if now is None else now
        wanted_state = state.lower() if state is not None else None

        def matches(run: SimRun) -> bool:
            if type is not None and run.type != type:
                return False
            if wanted_state is not None and run.state_at(now) != wanted_state:
                return False
            if ended_from is not None or ended_to is not None:
                ended = run.ended_at(now)
                if ended is None:
                    return False
                if ended_from is not None and ended < ended_from:
                    return False
                if ended_to is not None and ended >= ended_to:
                    return False
            return True

        with self._lock:
            if wanted_state is None:
                order = self._order
            elif wanted_state in TERMINAL_STATES:
                order = self._finished_by_state.get(wanted_state, [])
            else:
                order = self._active_order
            source = self._runs
            lo = bisect.bisect_left(order, (created_from, "")) if created_from is not None else 0
            top = (bisect.bisect_left(order, (created_to, "")) if created_to is not None
                   else len(order))
            hi = min(top, bisect.bisect_left(order, after)) if after is not None else top
            page: list[SimRun] = []
            next_key: RunKey | None = None
            for run in _scan_desc(order, source, lo, hi):
                if not matches(run):
                    continue
                if len(page) == limit:
                    next_key = page[-1].key
                    break
                page.append(run)
            total = None
            if with_total:
                total = sum(1 for run in _scan_desc(order, source, lo, top) if matches(run))
        return page, next_key, total

    def list_ingest_jobs(self, created_from: float, created_to: float) -> list[SimIngestJob]:
        """Ingest jobs created in ``[created_from, created_to)`` and visible now, newest first."""
        now = self.advance()
        with self._lock:
            lo = bisect.bisect_left(self._job_order, (created_from, ""))
            hi = bisect.bisect_left(self._job_order, (created_to, ""))
            jobs = [self._jobs[job_id] for _, job_id in reversed(self._job_order[lo:hi])]
        return [job for job in jobs if job.visible_at() <= now]

    def get_ingest_job(self, job_id: str) -> SimIngestJob:
        """The ingest job with this id, if it is visible yet.

        Raises:
            KeyError: If there is none (or it is not visible yet).
        """
        now = self.advance()
        job = self._jobs.get(job_id)
        if job is None or job.visible_at() > now:
            raise KeyError(job_id)
        return job

    def ingest_jobs(self) -> list[SimIngestJob]:
        """All ingest jobs visible now, newest first."""
        now = self.advance()
        with self._lock:
            jobs = [self._jobs[job_id] for _, job_id in reversed(self._job_order)]
        return [job for job in jobs if job.visible_at() <= now]

    def audit_page(
        self,
        *,
        happened_from: float | None,
        happened_to: float | None,
        after: tuple[float, str] | None,
        limit: int,
        with_total: bool,
    ) -> tuple[list[dict[str, Any]], tuple[float, str] | None, int | None]:
        """One page of audit events, newest first (same contract as ``list_runs``)."""
        self.advance()
        with self._lock:
            order = self._audit_order
            lo = bisect.bisect_left(order, (happened_from, "")) if happened_from is not None else 0
            top = (bisect.bisect_left(order, (happened_to, "")) if happened_to is not None
                   else len(order))
            hi = min(top, bisect.bisect_left(order, after)) if after is not None else top
            start = max(lo, hi - limit)
            page = list(reversed(self._audit[start:hi]))
            next_key = order[start] if start > lo else None
            return page, next_key, (top - lo) if with_total else None

    @property
    def segments(self) -> list[dict[str, Any]]:
        """The tenant's segments (static)."""
        return self._catalog.segments

    @property
    def campaigns(self) -> list[dict[str, Any]]:
        """The tenant's campaigns (static)."""
        return self._catalog.campaigns

    def campaign_template_or_none(self, campaign_id: str) -> str | None:
        """The destination data template id of a campaign (what the filter matches)."""
        return self._catalog.campaign_templates.get(campaign_id)

    @property
    def campaign_drafts(self) -> list[dict[str, Any]]:
        """The tenant's campaign drafts (static; only served under ``unstable``)."""
        return self._catalog.drafts

    @property
    def indexes(self) -> list[dict[str, Any]]:
        """The tenant's profile indexes (static)."""
        return self._catalog.indexes

    def profiles(self, index_id: str) -> list[dict[str, Any]]:
        """The profiles of an index, generated once on first use.

        Raises:
            KeyError: If there is no such index.
        """
        if not any(index["id"] == index_id for index in self._catalog.indexes):
            raise KeyError(index_id)
        with self._lock:
            if index_id not in self._profiles:
                self._profiles[index_id] = _make_profiles(self.seed, index_id,
                                                          self._profiles_per_index)
            return self._profiles[index_id]

    def definition(self, config_id: str) -> WorkflowDefinition | None:
        """The workflow definition with this config id, if any."""
        return self._by_config.get(config_id)


def _remove_key(order: list[RunKey], key: RunKey) -> None:
    index = bisect.bisect_left(order, key)
    if index < len(order) and order[index] == key:
        del order[index]


def _scan_desc(order: list[RunKey], runs: dict[str, SimRun], lo: int, hi: int) -> Iterator[SimRun]:
    for index in range(hi - 1, lo - 1, -1):
        yield runs[order[index][1]]


def _plan_outcome(
    rng: random.Random,
    created: float,
    base: float,
    definition: WorkflowDefinition,
    task_count: int,
) -> tuple[tuple[tuple[float, str], ...], float, str, dict[str, Any] | None, int | None]:
    """Draw how a scheduled run goes: phases, end, final state, error, failed task."""
    odds = definition.outcomes
    roll = rng.random()
    running = (created, "running")
    thresholds: list[tuple[float, str]] = []
    acc = 0.0
    for name in ("skipped", "failed_customer", "failed_platform", "running_with_failures",
                 "paused", "long"):
        acc += getattr(odds, name)
        thresholds.append((acc, name))
    outcome = next((name for limit, name in thresholds if roll < limit), "normal")
    if outcome == "skipped":
        return (running,), created + rng.uniform(2, 10), "skipped", None, None
    if outcome in ("failed_customer", "failed_platform"):
        attribution = outcome.split("_")[1]
        return ((running,), created + base * rng.uniform(0.2, 0.9), "failed",
                error_for(attribution, rng, definition.type), None)
    if outcome == "running_with_failures":
        failing: tuple[tuple[float, str], ...] = (
            running, (created + 0.4 * base, "running with failures"))
        return (failing, created + 1.1 * base, "failed",
                error_for("customer", rng, definition.type), task_count // 2)
    if outcome == "paused":
        phases: tuple[tuple[float, str], ...] = (
            running, (created + 0.3 * base, "paused"), (created + 0.8 * base, "running"),
            (created + 1.4 * base, "finalizing"))
        return phases, created + 1.5 * base, "succeeded", None, None
    duration = base * rng.uniform(3, 6) if outcome == "long" else base
    normal = (running, (created + 0.92 * duration, "finalizing"))
    return normal, created + duration, "succeeded", None, None


def _ms(delta: timedelta | None) -> int | None:
    return int(delta.total_seconds() * 1000) if delta is not None else None


def _seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


__all__ = [
    "STOPPING_STATES",
    "TERMINAL_STATES",
    "SimIngestJob",
    "SimRun",
    "StopRefusedError",
    "TenantWorld",
    "UnknownConfigError",
]
