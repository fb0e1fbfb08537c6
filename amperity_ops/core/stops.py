"""What became of a stop request, and who asked for it: typed, so nothing matches on prose."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["NewStop", "Requester", "RequesterKind", "StopResult"]


class StopResult(StrEnum):
    """What happened to a stop request (the value is what the stop ledger stores)."""

    STOPPED = "stopped"
    """The stop was sent and the run reached a terminal state within the timeout."""
    STILL_STOPPING = "timeout"
    """The stop was sent but the run was not terminal when the wait timed out."""
    NOT_RUNNING = "not_running"
    """The run had already ended or was already stopping: nothing to do."""
    UNKNOWN_STATE = "unknown_state"
    """The run's state is not one we recognise: nothing destructive is done on it."""
    NOT_FOUND = "not_found"
    """The first re-read answered 404 and the store never saw the run: a wrong id or tenant.
    Nothing was stopped, and this is not a success."""
    VANISHED = "vanished"
    """The run existed (it was read, or the store knew it) and then answered 404."""
    DRY_RUN = "dry_run"
    """The run is stoppable, but this was a dry run: nothing was sent."""
    FAILED = "failed"
    """The stop did not take: Amperity refused it each time (the run was read still running
    after the last send), or the stop job failed before it could send or record it."""
    KILLED = "killed"
    """The stop job's run was canceled, or its process died, before it recorded a result;
    whether the stop left is not known (a fresh read decides whether to try again)."""
    OUTCOME_UNKNOWN = "outcome_unknown"
    """The stop may have been sent but its answer was lost, or the job never finished: a fresh
    read of the run decides whether to try again."""


class RequesterKind(StrEnum):
    """Who may ask for a stop: a Dagster sensor, the command line, or a person (Launchpad)."""

    SENSOR = "sensor"
    PERSON = "person"
    CLI = "cli"


@dataclass(frozen=True)
class Requester:
    """Who asked for a stop: a kind and a name, matched by value, shown by :attr:`label`.

    The label is the text people have always read in the ledger, the run tags and the CLI:
    ``sensor amperity_workflow_sla_sensor``, ``cli:alice``, ``launchpad (anonymous)``,
    ``jane@example.com``.
    """

    kind: RequesterKind
    name: str

    @classmethod
    def sensor(cls, name: str) -> Requester:
        """A Dagster sensor, by its name."""
        return cls(RequesterKind.SENSOR, name)

    @classmethod
    def cli(cls, user: str) -> Requester:
        """The ``amperity-ops`` command, run by this login name."""
        return cls(RequesterKind.CLI, user)

    @classmethod
    def person(cls, name: str) -> Requester:
        """Anyone else, as they (or Dagster's user tag) named themselves."""
        return cls(RequesterKind.PERSON, name)

    @property
    def label(self) -> str:
        """The display text (also stored as ``requested_by``)."""
        if self.kind is RequesterKind.SENSOR:
            return f"sensor {self.name}"
        if self.kind is RequesterKind.CLI:
            return f"cli:{self.name}" if self.name else "cli"
        return self.name

    def same_as(self, other: Requester) -> bool:
        """Whether two requesters are one, for finding a requester's own ledger rows.

        Every sensor is one requester whatever its name, so renaming the sensor cannot give
        its requests a second row; anyone else is the same by kind and name.
        """
        if self.kind is RequesterKind.SENSOR:
            return other.kind is RequesterKind.SENSOR
        return self == other

    @property
    def short(self) -> str:
        """The kind for a sensor (its name is plumbing), the label otherwise."""
        return self.kind.value if self.kind is RequesterKind.SENSOR else self.label

    @classmethod
    def from_text(cls, text: str) -> Requester:
        """Read a free-text requester written before requesters were typed.

        ``sensor X`` is a sensor, ``cli``, ``cli X`` and ``cli:X`` are the command line,
        anything else is a person.
        """
        text = text.strip()
        if text == "sensor" or text.startswith("sensor "):
            return cls.sensor(text.removeprefix("sensor").strip())
        if text == "cli":
            return cls.cli("")
        for prefix in ("cli:", "cli "):
            if text.startswith(prefix):
                return cls.cli(text.removeprefix(prefix).strip())
        return cls.person(text)

    @classmethod
    def from_columns(cls, kind: str | None, name: str | None, text: str) -> Requester:
        """A requester from the ledger's columns; rows written before them fall back on text."""
        if kind is None:
            return cls.from_text(text)
        return cls(RequesterKind(kind), name or "")


@dataclass(frozen=True)
class NewStop:
    """A stop-ledger row to add: planned in ``monitoring/``, written by ``Store.record_stops``."""

    run_key: str
    tenant: str
    workflow_id: str
    requested_by: str
    reason: str
    dry_run: bool
    requested_at: datetime
    workflow_name: str = ""
    state_before: str | None = None
    result: StopResult | None = None
    """Set when the row is final at once (a dry-run note: ``dry_run``); None while in flight."""
    finished_at: datetime | None = None
    detail: str | None = None
    requester: Requester | None = None
    """Who asked, typed (stored in its own columns); None: read from ``requested_by``."""
