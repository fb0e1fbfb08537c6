"""Shards: ``AMPERITY_OPS_SHARD=k/n`` read strictly, tenants assigned stably and exactly once."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from amperity_ops.monitoring.shards import Shard, parse_shard, shard_of
from amperity_ops.settings import ConfigError


@dataclass(frozen=True)
class _Tenant:
    name: str
    shard: int | None = None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1/4", Shard(1, 4)), (" 4 / 4 ", Shard(4, 4)), ("1/1", Shard(1, 1)), ("", None),
     (None, None)],
)
def test_parse_shard_reads_k_of_n(text: str | None, expected: Shard | None) -> None:
    """k/n with 1 <= k <= n is a shard; unset or blank means not sharded."""
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "two/four", "1/0", "-1/4", "1/4/2"])
def test_a_bad_shard_is_one_line_naming_the_variable_and_the_fix(text: str) -> None:
    """A bad value stops with one line: the variable, the value and what to write instead."""
    with pytest.raises(ConfigError) as raised:
        parse_shard(text)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"AMPERITY_OPS_SHARD={text!r}")
    assert "set AMPERITY_OPS_SHARD to k/n with 1 <= k <= n, e.g. 2/4" in message


def test_the_hash_is_stable_across_processes_and_releases() -> None:
    """SHA-256 of the name, pinned: if these change, tenants move between shards on upgrade."""
    names = ("acme", "acme-sandbox", "brand-7", "tenant-0001")
    assert [shard_of(name, 4) for name in names] == [1, 3, 1, 4]


def test_every_tenant_is_watched_by_exactly_one_shard_and_the_split_is_even() -> None:
    """1,000 tenants over 4 shards: disjoint, covering all, each shard within 20 % of 250."""
    tenants = [_Tenant(f"tenant-{i:04d}") for i in range(1000)]
    shares = [Shard(k, 4).select(tenants) for k in range(1, 5)]
    names = [t.name for share in shares for t in share]
    assert sorted(names) == sorted(t.name for t in tenants)
    assert all(200 <= len(share) <= 300 for share in shares), [len(s) for s in shares]


def test_an_explicit_shard_wins_over_the_hash() -> None:
    """``shard: 3`` places a tenant in shard 3 whatever its name hashes to."""
    hashed = shard_of("big-brand", 4)
    explicit = 1 if hashed != 1 else 2
    tenants = [_Tenant("big-brand", shard=explicit), _Tenant("other")]
    assert [t.name for t in Shard(explicit, 4).select(tenants)][:1] == ["big-brand"]
    assert "big-brand" not in [t.name for t in Shard(hashed, 4).select(tenants)]


def test_an_explicit_shard_beyond_the_count_names_the_file_field_and_fix() -> None:
    """``shard: 5`` with 4 shards would be watched by nobody: an error naming where and how."""
    tenants = [_Tenant("a"), _Tenant("big", shard=5)]
    with pytest.raises(ConfigError) as raised:
        Shard(1, 4).select(tenants, source="policy.yaml")
    assert str(raised.value) == (
        "policy.yaml: tenants[1].shard: 5 is beyond the 4 shards of AMPERITY_OPS_SHARD=1/4, "
        "so no code location would watch 'big'; use 1..4 or remove it"
    )
