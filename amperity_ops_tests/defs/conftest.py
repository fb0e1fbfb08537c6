"""The Dagster tests use the services' fixtures: a quiet simulator, a store, an OpsRuntime."""

from amperity_ops_tests.services.conftest import quiet_sim, runtime, store_url

__all__ = ["quiet_sim", "runtime", "store_url"]
