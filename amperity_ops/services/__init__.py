"""I/O orchestration without Dagster: polling, the SLA guard, stopping runs.

Each service takes clients, a store and the ops configuration as arguments and returns a plain
report, so ``defs/`` (Dagster) and ``cli.py`` drive the same code. Decisions are delegated to
``amperity_ops.monitoring`` (pure functions); these modules only move data between the
Amperity API, the history store and the alert sinks.
"""
