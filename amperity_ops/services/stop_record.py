"""The stop ledger's row for one stop request: opened once the run is read, finished at the end.

Which row an ending goes to is decided by :func:`amperity_ops.monitoring.stop_order.ledger_row_for`;
this only writes it (see ``services/stop.py``, step 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from amperity_ops.core import Requester, StopResult
from amperity_ops.monitoring import stop_run_key
from amperity_ops.monitoring.stop_order import StopOutcome, ledger_row_for

if TYPE_CHECKING:
    from amperity_ops.client import WorkflowRun
    from amperity_ops.store import Store

__all__ = ["StopLedgerRow"]


@dataclass
class StopLedgerRow:
    """The stop ledger's row for this request: opened once the run is read, finished at the end."""

    store: Store | None
    tenant: str
    workflow_id: str
    requester: Requester
    reason: str
    dry_run: bool
    started_at: datetime
    row_id: int | None = None

    def open(self, before: WorkflowRun | None) -> None:
        """The requester's pending row (the SLA sensor's request), or a new one.

        Recorded as soon as the run has been re-read, so an interrupted wait still leaves who
        asked and why in the store.
        """
        if self.store is None or self.row_id is not None:
            return
        self.row_id = self._pending()
        if self.row_id is None:
            self.row_id = self.store.record_stop(
                run_key=stop_run_key(self.tenant, self.workflow_id),
                tenant=self.tenant,
                workflow_id=self.workflow_id,
                workflow_name=before.name if before else "",
                requested_by=self.requester.label,
                requester=self.requester,
                reason=self.reason,
                dry_run=self.dry_run,
                requested_at=self.started_at,
                state_before=before.state.raw if before else None,
            )

    def finish(self, outcome: StopOutcome, before: WorkflowRun | None) -> None:
        """Write the outcome to the row :func:`ledger_row_for` names; mark a vanished run."""
        if self.store is None:
            return
        if outcome.result is StopResult.VANISHED:
            self.store.mark_runs_vanished(self.tenant, [self.workflow_id], at=outcome.finished_at)
        row = ledger_row_for(outcome.result, dry_run=self.dry_run)
        if row == "pending":
            self.row_id = self._pending()
        elif row == "open":
            self.open(before)
        if row != "none" and self.row_id is not None:
            self.store.finish_stop(
                self.row_id,
                result=outcome.result,
                state_after=outcome.state_after,
                finished_at=outcome.finished_at,
                detail=outcome.message,
                state_before=outcome.state_before,
            )

    def _pending(self) -> int | None:
        """An unfinished real request for this run by the same requester (never in dry run).

        The SLA sensor records its request before Dagster launches the stop job; the job then
        finishes that row instead of adding a second one for the same request. Matched by
        value: any sensor's row is the sensor's, whatever the sensor is called now.
        """
        if self.store is None or self.dry_run:
            return None
        return self.store.pending_stop_id(self.tenant, self.workflow_id, requester=self.requester)
