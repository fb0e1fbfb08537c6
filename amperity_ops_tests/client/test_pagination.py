"""PageIterator on its own (a pure unit: pages come from a function, no server)."""

from __future__ import annotations

import pytest

from amperity_ops.client import PageIterator, PaginationError, Segment
from amperity_ops.client.models import Page


def segment(n: int) -> Segment:
    return Segment.model_validate({"id": f"seg-{n}", "name": f"Segment {n}", "status": "active"})


def pages(*tokens: str | None) -> tuple[list[str | None], PageIterator[Segment]]:
    """An iterator over len(tokens) pages of two items; page i answers next_token tokens[i]."""
    asked: list[str | None] = []

    def fetch(token: str | None) -> Page[Segment]:
        asked.append(token)
        i = len(asked) - 1
        return Page[Segment](data=[segment(2 * i), segment(2 * i + 1)], next_token=tokens[i])

    return asked, PageIterator(fetch, what="GET /segments")


@pytest.mark.parametrize("last", [None, ""])
def test_an_absent_or_empty_token_ends_the_listing(last: str | None) -> None:
    """The page without next_token, or with an empty one, is the last: no further request."""
    asked, items = pages("t1", "t2", last)
    assert [s.id for s in items] == [f"seg-{n}" for n in range(6)]
    assert asked == [None, "t1", "t2"]


def test_a_repeated_token_raises_naming_the_listing() -> None:
    """A token seen before (not just the previous one) raises PaginationError, no loop."""
    asked, items = pages("t1", "t2", "t1", "t3")
    with pytest.raises(PaginationError, match=r"GET /segments: .*'t1' a second time"):
        list(items)
    assert asked == [None, "t1", "t2"]


def test_pages_are_fetched_only_as_items_are_consumed() -> None:
    """Nothing is fetched before iteration; the second page only after the first is used up."""
    asked, items = pages("t1", None)
    assert asked == []
    next(items)
    next(items)
    assert asked == [None]
    next(items)
    assert asked == [None, "t1"]
