"""Lazy iteration over Amperity's cursor pagination, in constant memory.

Every list endpoint answers ``{"data": [...], "next_token": "...", "total": N}``. The last
page is the one *without* ``next_token`` or with an empty one. Tokens are opaque; a server that
sends the same token twice would loop a naive client forever, so a repeated token raises
:class:`~amperity_ops.client.errors.PaginationError`.

Only one page is held at a time: iterating 100,000 runs costs the memory of one page.

Pages are parsed per item when a record does not fit (``_lenient.py``): odd records are kept
and flagged (``item.problems``) or, without a usable id, left out; ``odd_records`` and
``dropped_records`` count them over the pages fetched so far.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from pydantic import BaseModel

from amperity_ops.client.errors import PaginationError
from amperity_ops.client.models import Page

__all__ = ["PageIterator"]

T = TypeVar("T", bound=BaseModel)

_END = object()


class PageIterator(Generic[T], Iterator[T]):
    """An iterator over every item of a listing, fetching pages only as they are needed.

    ``total`` is available when the listing was asked ``with_total=True``: reading it fetches
    the first page if iteration has not started (the items of that page are not lost).

    Args:
        fetch: Fetches one page given the token (None for the first page).
        what: Names the listing in error messages (e.g. ``"GET /workflow/runs"``).
        max_items: Stop after this many items (None: all of them).
    """

    def __init__(
        self,
        fetch: Callable[[str | None], Page[T]],
        *,
        what: str,
        max_items: int | None = None,
    ) -> None:
        if max_items is not None and max_items < 0:
            raise ValueError(f"max_items must be >= 0, got {max_items}")
        self._max_items = max_items
        self._progress = _Progress()
        # The page generator must not reference ``self``: a cycle would keep every fetched
        # page alive until the garbage collector runs, costing memory and time.
        self._pages = _follow(fetch, what, self._progress)
        self._items: Iterator[T] = iter(())
        self._yielded = 0
        self._started = False

    @property
    def pages_fetched(self) -> int:
        """How many pages were requested so far (one that failed included)."""
        return self._progress.pages

    @property
    def odd_records(self) -> int:
        """Records so far that did not fit their model: flagged (``problems``) or dropped."""
        return self._progress.odd

    @property
    def dropped_records(self) -> int:
        """Records so far left out because they had no usable id (part of ``odd_records``)."""
        return self._progress.dropped

    def _load_next_page(self) -> bool:
        self._started = True
        page = next(self._pages, None)
        if page is None:
            return False
        self._items = iter(page.data)
        return True

    def __iter__(self) -> PageIterator[T]:
        return self

    def __next__(self) -> T:
        if self._max_items is not None and self._yielded >= self._max_items:
            raise StopIteration
        while True:
            item = next(self._items, _END)
            if item is not _END:
                self._yielded += 1
                return item  # type: ignore[return-value]
            if not self._load_next_page():
                raise StopIteration

    @property
    def total(self) -> int | None:
        """The server's ``total`` (only sent for ``with_total=True``; None otherwise)."""
        if not self._started:
            self._load_next_page()
        return self._progress.total


class _Progress:
    """What the page generator reports back to its iterator."""

    __slots__ = ("dropped", "odd", "pages", "total")

    def __init__(self) -> None:
        self.pages = 0
        self.total: int | None = None
        self.odd = 0
        self.dropped = 0


def _follow(
    fetch: Callable[[str | None], Page[T]], what: str, progress: _Progress
) -> Iterator[Page[T]]:
    """Yield pages, following ``next_token`` until it is absent or empty; refuse repeats."""
    seen: set[str] = set()
    token: str | None = None
    while True:
        progress.pages += 1  # counted when requested: a page that failed was requested too
        page = fetch(token)
        if page.total is not None:
            progress.total = page.total
        progress.odd += page.odd_records
        progress.dropped += page.dropped_records
        yield page
        token = page.next_token or None
        if token is None:
            return
        if token in seen:
            raise PaginationError(
                f"{what}: the server sent page token {token[:40]!r} a second time "
                f"(after {progress.pages} pages); stopping instead of looping forever"
            )
        seen.add(token)
