"""Which tenants a shard keeps: many tenants split across several Dagster code locations.

A shard is written ``k/n`` ("the k-th of n", 1-based), read from ``AMPERITY_OPS_SHARD`` when a
code location loads. Every code location reads the same policy file; each keeps only its own
tenants, so one configuration describes the whole fleet. A tenant's shard is:

1. its explicit ``shard:`` in the policy file, when given (to place a big tenant by hand), else
2. a stable hash of its ``name``: SHA-256, never Python's ``hash()``, which is salted per
   process and would move tenants between shards on every restart.

Pure: no I/O, no environment reads (the caller passes the text).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from amperity_ops.settings import ConfigError

__all__ = [
    "SHARD_ENV",
    "Shard",
    "ShardedTenant",
    "parse_shard",
    "shard_of",
]

SHARD_ENV = "AMPERITY_OPS_SHARD"
"""The environment variable a code location reads at load: ``k/n``, or unset for all tenants."""
_SHARD_TEXT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_FIX = f"set {SHARD_ENV} to k/n with 1 <= k <= n, e.g. 2/4 for the second of four shards"


class ShardedTenant(Protocol):
    """What a shard needs to know of a tenant (``settings.TenantConfig`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def shard(self) -> int | None: ...


T = TypeVar("T", bound=ShardedTenant)


def shard_of(name: str, count: int) -> int:
    """The shard (1..count) a tenant name hashes to: the same in every process, every time.

    Args:
        name: The tenant's ``name`` in the policy file.
        count: How many shards there are.

    Returns:
        A shard number from 1 to ``count``.
    """
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


@dataclass(frozen=True)
class Shard:
    """The k-th of n shards (``index`` is 1-based)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def label(self) -> str:
        """E.g. ``shard 2/4``, for log lines and skip reasons."""
        return f"shard {self}"

    def owner_of(self, tenant: ShardedTenant) -> int:
        """The shard (1..count) that watches ``tenant``: its explicit ``shard``, else the hash."""
        return tenant.shard if tenant.shard is not None else shard_of(tenant.name, self.count)

    def select(self, tenants: Sequence[T], *, source: str = "policy file") -> list[T]:
        """The tenants this shard watches, in their file order.

        Args:
            tenants: Every tenant of the policy file.
            source: The policy file's name, for the error message.

        Returns:
            This shard's tenants (possibly none: few tenants over many shards).

        Raises:
            ConfigError: A tenant's explicit ``shard`` is beyond ``count`` (it would be
                watched by no code location); the message names the file, field and fix.
        """
        for i, tenant in enumerate(tenants):
            if tenant.shard is not None and tenant.shard > self.count:
                raise ConfigError(
                    f"{source}: tenants[{i}].shard: {tenant.shard} is beyond the {self.count} "
                    f"shards of {SHARD_ENV}={self}, so no code location would watch "
                    f"{tenant.name!r}; use 1..{self.count} or remove it"
                )
        return [t for t in tenants if self.owner_of(t) == self.index]


def parse_shard(text: str | None) -> Shard | None:
    """Read ``AMPERITY_OPS_SHARD``'s value: ``k/n``; None or blank means "not sharded".

    Args:
        text: The variable's value.

    Returns:
        The shard, or None when unset.

    Raises:
        ConfigError: One line naming the variable, the bad value and the fix.
    """
    if text is None or not text.strip():
        return None
    match = _SHARD_TEXT.match(text)
    if match is None:
        raise ConfigError(f"{SHARD_ENV}={text.strip()!r}: not of the form k/n; {_FIX}")
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 1 <= index <= count:
        raise ConfigError(f"{SHARD_ENV}={text.strip()!r}: no shard {index} of {count}; {_FIX}")
    return Shard(index=index, count=count)
