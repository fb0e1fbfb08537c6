"""A simulated Amperity tenant: the API, a living world of workflows, faults, a rate limit.

Public surface (see docs/simulator.md and docs/CONTRACTS.md)::

    from amperity_ops.simulator import Simulator, TenantSpec, ManualClock, Faults
"""

from amperity_ops.simulator._catalog import DEFAULT_CATALOG, TaskTemplate, WorkflowDefinition
from amperity_ops.simulator._clock import Clock, ManualClock, SystemClock
from amperity_ops.simulator._faults import Faults
from amperity_ops.simulator._requestlog import RequestLog
from amperity_ops.simulator._simulator import IN_PROCESS_BASE_URL, Simulator
from amperity_ops.simulator._tenant import TenantSpec
from amperity_ops.simulator._world import (
    TERMINAL_STATES,
    SimIngestJob,
    SimRun,
    StopRefusedError,
    TenantWorld,
)

__all__ = [
    "DEFAULT_CATALOG",
    "IN_PROCESS_BASE_URL",
    "TERMINAL_STATES",
    "Clock",
    "Faults",
    "ManualClock",
    "RequestLog",
    "SimIngestJob",
    "SimRun",
    "Simulator",
    "StopRefusedError",
    "SystemClock",
    "TaskTemplate",
    "TenantSpec",
    "TenantWorld",
    "WorkflowDefinition",
]
