"""The store's one exception, apart so that the facade and the migrations can both raise it."""

from __future__ import annotations

__all__ = ["StoreError"]


class StoreError(Exception):
    """The store cannot be opened (bad URL, database unreachable, schema behind).

    The message is one line and has no password.
    """
