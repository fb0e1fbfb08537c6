"""Clients opened per tenant and tick share the costly parts: TLS context and Redis pool."""

from __future__ import annotations

import pytest

from amperity_ops.client import AmperityClient
from amperity_ops.client._client import shared_tls_context
from amperity_ops.client._ratelimit import RedisBudget

REDIS_URL = "redis://127.0.0.1:6379/0"


def test_every_client_uses_the_one_tls_context_of_the_process() -> None:
    """Two clients verify TLS with one context: the CA bundle is loaded once, not per tenant."""
    contexts = []
    for tenant in ("acme", "acme-sb"):
        with AmperityClient(tenant, base_url="https://x.example/api", access_token="t",
                            rate_limit_rps=0) as client:
            contexts.append(client._http._transport._pool._ssl_context)  # type: ignore[attr-defined]
    assert contexts[0] is contexts[1] is shared_tls_context()


@pytest.mark.redis
def test_redis_budgets_of_one_url_share_a_connection_pool() -> None:
    """Budgets of many tenants on one Redis reuse one pool instead of connecting per client."""
    first, second = RedisBudget(REDIS_URL, "pool-a"), RedisBudget(REDIS_URL, "pool-b")
    try:
        assert first._redis.connection_pool is second._redis.connection_pool
        assert first.try_acquire(10, 1.0) == 0.0
    finally:
        first._redis.delete(first.key)
        first.close()
        second.close()
