"""Thin Dagster wiring: resources, assets, checks, sensors, schedules and the stop job.

Nothing here decides anything: the bodies call ``amperity_ops.services`` (I/O orchestration),
which call ``amperity_ops.monitoring`` (pure decisions). ``amperity_ops.definitions`` assembles
these into the one ``Definitions`` object.
"""
