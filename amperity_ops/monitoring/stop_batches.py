"""Many stops in one tick go to Dagster as a few batch runs, not one run each: pure decisions.

Each stop the SLA sensor asks for is normally a run of the stop job of its own: the Runs list
shows it by workflow id, tenant and who asked. A tick that asks for many at once (a platform
incident makes every tenant's nightly run overdue) would queue as many runs, and each is a
process (or a pod): Dagster creates a few runs a second and a 2-core host runs one or two at a
time, so 1,000 stops would drain over an hour. Above :data:`BATCH_ABOVE` stops in one tick,
the stops go in batch runs of up to :data:`BATCH_SIZE` instead; the batch job stops each run
exactly as the stop job does (re-read, recognised running state, at most 3 POSTs, the ledger
row per stop), several at once.

A batch's run key is a digest of the stop run keys it carries, so the same stops give the same
key (Dagster skips a run key it has seen), and the ledger row of each stop remembers it
(``launched_as``) for the lost-stop recovery and the retries (``monitoring.stop_retry``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from amperity_ops.monitoring.tick_report import StopToRequest

__all__ = ["BATCH_ABOVE", "BATCH_SIZE", "StopBatch", "batch_run_key", "split_into_batches"]

BATCH_ABOVE = 10
"""Up to this many stops in one tick, each is a run of its own (the usual case); above, batches
(``auto_stop.batch_above`` in the policy file)."""
BATCH_SIZE = 250
"""The most stops one batch run carries, so its run config and summary table stay readable
(``auto_stop.batch_size``)."""


@dataclass(frozen=True)
class StopBatch:
    """Stops carried by one run of the batch stop job."""

    run_key: str
    stops: tuple[StopToRequest, ...]

    @property
    def tenants(self) -> list[str]:
        """The tenants of its stops, each once, in order."""
        return list(dict.fromkeys(s.tenant for s in self.stops))


def batch_run_key(stops: Sequence[StopToRequest]) -> str:
    """``stops:<count>:<digest>``: the same stops (in any order) give the same key."""
    keys = sorted(f"{s.tenant}\n{s.run_key}" for s in stops)
    digest = hashlib.sha256("\n\n".join(keys).encode()).hexdigest()[:20]
    return f"stops:{len(stops)}:{digest}"


def split_into_batches(
    stops: Sequence[StopToRequest], *, above: int = BATCH_ABOVE, size: int = BATCH_SIZE
) -> tuple[list[StopToRequest], list[StopBatch]]:
    """The stops to request one run each, and the batches (never both).

    Args:
        stops: The tick's stops (new ones and lost ones asked again), each in the ledger.
        above: Batches only when there are more stops than this.
        size: The most stops in one batch.

    Returns:
        ``(single, batches)``: all stops single when there are ``above`` or fewer, else all in
        batches of at most ``size``, ordered by tenant then run key.
    """
    if len(stops) <= above:
        return list(stops), []
    ordered = sorted(stops, key=lambda s: (s.tenant, s.run_key))
    chunks = [tuple(ordered[i:i + size]) for i in range(0, len(ordered), size)]
    return [], [StopBatch(batch_run_key(chunk), chunk) for chunk in chunks]
