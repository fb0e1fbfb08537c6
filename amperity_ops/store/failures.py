"""A database failure in the middle of work, as one line naming the store (password masked)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError

from amperity_ops.store.errors import StoreError

__all__ = ["store_failures_named"]

log = logging.getLogger(__name__)


@contextmanager
def store_failures_named(where: str) -> Iterator[None]:
    """Re-raise any SQLAlchemy error inside the block as a one-line :class:`StoreError`.

    SQLAlchemy's own message spans lines (the statement, its parameters, a link): in a sensor's
    tick list or a CLI it buries which database failed. The full error goes to DEBUG.

    Args:
        where: The store's URL, password already masked (``Store.url``).

    Raises:
        StoreError: ``the history store at <url> failed: <DBAPI error>: <its first line>``.
    """
    try:
        yield
    except SQLAlchemyError as err:
        log.debug("the history store at %s failed", where, exc_info=True)
        reason = getattr(err, "orig", None) or err
        text = str(reason).strip()
        first_line = text.splitlines()[0] if text else ""
        raise StoreError(
            f"the history store at {where} failed: {type(reason).__name__}: {first_line}"
        ) from None
