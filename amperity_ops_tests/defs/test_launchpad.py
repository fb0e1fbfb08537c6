"""The Launchpad's stop: required fields refused by Dagster's config validation before any run
exists, and the id's distinguishing tail on every stop run's tags."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from dagster import DagsterInstance, DagsterInvalidConfigError, validate_run_config

from amperity_ops.defs.jobs import (
    WORKFLOW_ID_TAIL_TAG,
    stop_amperity_workflow_run,
    stop_run_config,
    stop_run_tags,
    workflow_id_tail,
)
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.simulator import Simulator
from amperity_ops_tests.services.helpers import TENANT

ID = "wf-20240619-14418-6UhqSe"


def _launchpad(**fields: Any) -> dict[str, Any]:
    return {"ops": {"stop_workflow_run": {"config": fields}}}


@pytest.mark.parametrize("missing", ["requested_by", "reason", "workflow_id"])
def test_launchpad_refuses_a_config_missing_a_required_field(missing: str) -> None:
    """Without requested_by, reason or workflow_id the config is invalid: no run is queued."""
    fields = {"workflow_id": ID, "reason": "stuck", "requested_by": "jane@example.com"}
    del fields[missing]
    with pytest.raises(DagsterInvalidConfigError) as caught:
        validate_run_config(stop_amperity_workflow_run, _launchpad(**fields))
    assert f'Missing required config entry "{missing}"' in str(caught.value)


def test_launchpad_accepts_the_sensors_config() -> None:
    """The sensor's RunRequest config (all required fields given) is valid as is."""
    config = stop_run_config(workflow_id=ID, reason="SLA", tenant=None,
                             requested_by="sensor amperity_workflow_sla_sensor")
    validated = validate_run_config(stop_amperity_workflow_run, config)
    assert validated["ops"]["stop_workflow_run"]["config"]["requested_by"].startswith("sensor")


def test_id_tail_and_tags_put_it_first() -> None:
    """The tail drops the shared prefix and date; the stop tags start with it."""
    assert workflow_id_tail(ID) == "14418-6UhqSe"
    assert workflow_id_tail("odd-id") == "odd-id"
    tags = stop_run_tags(workflow_id=ID, tenant="acme", requested_by="jane")
    assert next(iter(tags.items())) == (WORKFLOW_ID_TAIL_TAG, "14418-6UhqSe")


def test_a_launchpad_run_carries_the_id_tail(
    runtime: OpsRuntime, quiet_sim: Simulator
) -> None:
    """A stop launched by hand is tagged with the id's tail and who asked."""
    run = quiet_sim.tenant(TENANT).add_run(started_ago=timedelta(hours=3))
    instance = DagsterInstance.ephemeral()
    result = stop_amperity_workflow_run.execute_in_process(
        run_config=_launchpad(workflow_id=run.id, reason="stuck", requested_by="jane",
                              dry_run=True),
        resources={"amperity_ops": runtime}, instance=instance)
    tags = instance.get_run_by_id(result.run_id).tags  # type: ignore[union-attr]
    assert tags[WORKFLOW_ID_TAIL_TAG] == workflow_id_tail(run.id) != run.id
    assert tags["amperity-ops/requested-by"] == "jane"
