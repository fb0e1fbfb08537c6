"""Table tests for monitoring.stop_batches: when a tick's stops go in batch runs; their keys."""

from __future__ import annotations

import pytest

from amperity_ops.monitoring.stop_batches import BATCH_ABOVE, batch_run_key, split_into_batches
from amperity_ops.monitoring.tick_report import StopToRequest


def _stops(count: int, tenants: int = 3) -> list[StopToRequest]:
    return [StopToRequest(f"t{i % tenants}", f"wf-{i}", "Nightly", f"stop:t{i % tenants}:wf-{i}",
                          "SLA policy nightly") for i in range(count)]


@pytest.mark.parametrize(("count", "size", "singles", "sizes"), [
    (0, 250, 0, []),
    (1, 250, 1, []),
    (BATCH_ABOVE, 250, BATCH_ABOVE, []),
    (BATCH_ABOVE + 1, 250, 0, [BATCH_ABOVE + 1]),
    (1000, 250, 0, [250, 250, 250, 250]),
    (501, 250, 0, [250, 250, 1]),
])
def test_a_few_stops_go_one_run_each_many_go_in_batches(
    count: int, size: int, singles: int, sizes: list[int]
) -> None:
    """Up to BATCH_ABOVE: a run each (the usual case); above: batches of at most ``size``."""
    single, batches = split_into_batches(_stops(count), size=size)
    assert len(single) == singles
    assert [len(b.stops) for b in batches] == sizes
    carried = [s.run_key for b in batches for s in b.stops]
    assert len(set(carried)) == len(carried) == sum(sizes)  # each stop in exactly one batch


def test_a_batch_key_names_its_stops_whatever_their_order() -> None:
    """The same stops give the same key (Dagster skips a key it has seen); others do not."""
    stops = _stops(12)
    assert batch_run_key(stops) == batch_run_key(list(reversed(stops)))
    assert batch_run_key(stops) != batch_run_key(stops[:11])
    assert batch_run_key(stops).startswith("stops:12:")
    [batch] = split_into_batches(stops)[1]
    assert batch.run_key == batch_run_key(stops)
    assert batch.tenants == ["t0", "t1", "t2"]
