"""A tenant's configuration (TenantSpec) and its live runtime (world, faults, log, ids)."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from amperity_ops.simulator._catalog import WorkflowDefinition
from amperity_ops.simulator._clock import Clock
from amperity_ops.simulator._faults import Faults, FaultState
from amperity_ops.simulator._requestlog import RequestLog
from amperity_ops.simulator._world import TenantWorld


@dataclass(frozen=True)
class TenantSpec:
    """How to build one simulated tenant.

    Attributes:
        tenant_id: The value clients send in ``amperity-tenant``.
        static_tokens: Bearer tokens accepted as they are (JWT-shaped ones also need a
            future ``exp``).
        client_id: OAuth client id for ``POST /api/v0/oauth2/token`` (None: no OAuth).
        client_secret: OAuth client secret.
        seed: Seeds everything random about the tenant.
        oauth_expires_in: Lifetime in seconds of OAuth-issued tokens (simulated time).
        schedules: Start the catalog's workflows on their schedules (the living world).
            False gives a quiet tenant whose runs are only those a test adds.
        history_days: With schedules, how many days of scheduled runs exist at start-up.
        history_runs: Extra finished runs bulk-added at start-up (scale tests).
        active_runs: Extra never-ending running runs bulk-added at start-up (scale tests).
        stop_delay: How long a stopped run stays ``stopping`` before it is ``stopped``.
        cancel_types: Workflow types whose stop reads ``canceling``/``canceled`` (default
            none: every stop reads ``stopping``/``stopped``).
        read_only_tokens: Static tokens that may only read: a POST (start, stop) with one is
            answered 403, like an API key without permission.
        faults: Faults in force at start-up.
        workflows: The workflow catalog (default: the built-in one).
        profiles_per_index: Profiles generated per profile index.
        deprecated_versions: api-versions announced as deprecated, each with its sunset
            (timezone-aware datetime) or None. Answers to them carry ``Deprecation: true``
            and ``Sunset``; from the sunset on (simulated time) they are answered 400.
    """

    tenant_id: str
    static_tokens: tuple[str, ...] = ()
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    seed: int = 0
    oauth_expires_in: int = 3600
    schedules: bool = True
    history_days: float = 3.0
    history_runs: int = 0
    active_runs: int = 0
    stop_delay: timedelta = timedelta(seconds=30)
    cancel_types: tuple[str, ...] = ()
    read_only_tokens: tuple[str, ...] = ()
    faults: Faults = field(default_factory=Faults)
    workflows: Sequence[WorkflowDefinition] | None = None
    profiles_per_index: int = 300
    deprecated_versions: Mapping[str, datetime | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.tenant_id or not self.tenant_id.strip():
            raise ValueError("TenantSpec.tenant_id must not be empty")
        for name in ("static_tokens", "read_only_tokens", "cancel_types"):
            if isinstance(getattr(self, name), str):
                raise TypeError(f"TenantSpec.{name} must be a tuple of strings, not a string")
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError("TenantSpec.client_id and client_secret go together")
        if self.oauth_expires_in <= 0:
            raise ValueError("TenantSpec.oauth_expires_in must be positive")
        for version, sunset in self.deprecated_versions.items():
            if sunset is not None and sunset.tzinfo is None:
                raise ValueError(f"TenantSpec.deprecated_versions[{version!r}]: the sunset "
                                 "must be timezone-aware")

    def __repr__(self) -> str:
        # Tokens and secrets never appear in reprs (they end up in logs and test output).
        return (f"TenantSpec(tenant_id={self.tenant_id!r}, "
                f"static_tokens=<{len(self.static_tokens)} hidden>, "
                f"client_id={self.client_id!r}, seed={self.seed}, schedules={self.schedules})")


class TenantRuntime:
    """Everything live about one tenant inside a running simulator."""

    def __init__(self, spec: TenantSpec, clock: Clock) -> None:
        self.spec = spec
        self.tenant_id = spec.tenant_id
        self.static_tokens = frozenset(spec.static_tokens)
        self.read_only_tokens = frozenset(spec.read_only_tokens)
        #: Deprecated api-versions -> sunset in epoch seconds (None: no sunset announced).
        self.sunsets: dict[str, float | None] = {
            version: sunset.timestamp() if sunset is not None else None
            for version, sunset in spec.deprecated_versions.items()
        }
        self.world = TenantWorld(
            tenant_id=spec.tenant_id,
            seed=spec.seed,
            clock=clock,
            schedules=spec.schedules,
            history_days=spec.history_days if spec.schedules else 0.0,
            workflows=spec.workflows,
            stop_delay=spec.stop_delay,
            cancel_types=spec.cancel_types,
            history_runs=spec.history_runs,
            active_runs=spec.active_runs,
            profiles_per_index=spec.profiles_per_index,
        )
        self.faults = FaultState(spec.faults, seed=spec.seed)
        self.log = RequestLog()
        self._ids = random.Random(f"{spec.seed}:{spec.tenant_id}:request-ids")
        self._ids_lock = threading.Lock()

    def next_request_id(self) -> str:
        """A UUID-shaped request id, deterministic in request order."""
        with self._ids_lock:
            return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
