"""One SLA sensor tick in a process of its own (a crash test starts and kills it).

Run as ``python -m amperity_ops_tests.crash.sla_tick_process``. It does what the Dagster
daemon asks its code server to do once a minute: evaluate
``amperity_workflow_sla_sensor`` against the instance in ``$DAGSTER_HOME``, with the runtime
built from the environment (``AMPERITY_OPS_CONFIG``, ``AMPERITY_OPS_STORE_URL``,
``AMPERITY_OPS_CLOCK``) exactly as the code location's resource builds it. Prints the tick's
skip reason (its summary) or its run keys, one line.
"""

from __future__ import annotations

from dagster import DagsterInstance, build_sensor_context

from amperity_ops.defs.sensors import amperity_workflow_sla_sensor
from amperity_ops.services.runtime import OpsRuntime


def main() -> None:
    """Evaluate one tick and print what it returned."""
    runtime = OpsRuntime.from_settings()
    try:
        with DagsterInstance.get() as instance:
            context = build_sensor_context(instance=instance,
                                           resources={"amperity_ops": runtime})
            result = amperity_workflow_sla_sensor(context)
    finally:
        runtime.close()
    if result.run_requests:
        print("requested:", " ".join(str(r.run_key) for r in result.run_requests))
    elif result.skip_reason is not None:
        print(result.skip_reason.skip_message)


if __name__ == "__main__":
    main()
