"""Secrets never leak: not into metadata, sensor logs, skip reasons, run config or the store.

One scenario drives every surface with secret-looking values: the tenant's API token, a
webhook URL with a credential in its path and query, and a PagerDuty routing key. The webhook
is down at first and echoes the path, query and key back in its error body, as careless
servers do; then it comes back up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, SensorResult, build_sensor_context, materialize
from sqlalchemy import select

from amperity_ops.client import AmperityClient
from amperity_ops.defs.assets import ingest_jobs, workflow_runs
from amperity_ops.defs.jobs import stop_amperity_workflow_run, stop_run_config
from amperity_ops.defs.sensors import amperity_ingest_sensor, amperity_workflow_sla_sensor
from amperity_ops.services.runtime import OpsRuntime
from amperity_ops.services.tenants import make_client
from amperity_ops.settings import TenantConfig
from amperity_ops.simulator import IN_PROCESS_BASE_URL, ManualClock, Simulator, TenantSpec
from amperity_ops.store import Store
from amperity_ops.store.schema import metadata
from amperity_ops_tests.receiver import serving
from amperity_ops_tests.services.helpers import STOP_POLICY, make_config

TENANT = "acme"
API_TOKEN = "sk-live-9f8e7d6c5b4a3928170AbCdEf"
HOOK_PATH_SECRET = "T0SECRET/B0SECRET/hookcredXyZ123"
HOOK_QUERY_SECRET = "qs-secret-4f4f4f4f"
ROUTING_KEY = "pd-routing-key-0a1b2c3d4e5f"
SECRETS = (API_TOKEN, HOOK_PATH_SECRET, HOOK_QUERY_SECRET, ROUTING_KEY)


class _Hook(BaseHTTPRequestHandler):
    """Down: 500 with the request path and routing key echoed. Up: 200."""

    up = False
    received: list[dict[str, object]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        if type(self).up:
            type(self).received.append(body)
            self.send_response(200)
            self.end_headers()
            return
        echo = json.dumps({"error": "down", "path": self.path, "key": body.get("routing_key")})
        self.send_response(500)
        self.end_headers()
        self.wfile.write(echo.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    """A receiver on a free port (down until the test raises it); its base URL."""
    handler = type("Hook", (_Hook,), {"up": False, "received": []})
    with serving(handler) as base_url:
        yield f"{base_url}", handler


def _store_text(store: Store) -> str:
    """Every column of every row of every table of the store, as text."""
    parts = []
    with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            parts += [repr(tuple(row)) for row in conn.execute(select(table))]
    return "\n".join(parts)


def _assert_clean(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}"


def test_no_secret_reaches_metadata_logs_skip_reasons_or_the_store(
    tmp_path: Path,
    clock: ManualClock,
    hook: tuple[str, type[_Hook]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Sensor ticks (sink down, then up), both assets and the stop job leak no secret anywhere."""
    base, handler = hook
    monkeypatch.setenv("AO_TEST_API_TOKEN", API_TOKEN)
    hook_url = f"{base}/services/{HOOK_PATH_SECRET}?token={HOOK_QUERY_SECRET}"
    monkeypatch.setenv("AO_TEST_HOOK", hook_url)
    monkeypatch.setenv("AO_TEST_PD_KEY", ROUTING_KEY)
    sim = Simulator(
        [TenantSpec(tenant_id=TENANT, static_tokens=(API_TOKEN,), seed=7, schedules=False)],
        clock=clock,
        rate_limit_rps=None,
    )
    config = make_config(
        policies=[STOP_POLICY],
        alerts=[
            {"kind": "webhook", "url": {"env": "AO_TEST_HOOK"}},
            {"kind": "pagerduty", "routing_key": {"env": "AO_TEST_PD_KEY"}, "url": f"{base}/pd"},
        ],
        tenants=[
            {
                "name": TENANT,
                "tenant_id": TENANT,
                "base_url": IN_PROCESS_BASE_URL,
                "access_token": {"env": "AO_TEST_API_TOKEN"},
                "app_url": "https://acme.amperity.example",
            }
        ],
    )
    transport = sim.transport()

    def factory(tenant: TenantConfig) -> AmperityClient:
        return make_client(tenant, transport=transport, rate_limit_rps=0)  # reveals the token

    runtime = OpsRuntime(
        config=config,
        store=Store.from_url(f"sqlite:///{tmp_path / 'store.sqlite'}"),
        client_factory=factory,
        clock=clock.now,
        sleep=lambda s: clock.advance(timedelta(seconds=s)),
    )
    world = sim.tenant(TENANT)
    late = world.add_run(name="Courier Group Late", started_ago=timedelta(hours=3))
    job = world.add_ingest_job(tables=("Orders",))
    job.feeds[0].read, job.feeds[0].errors, job.feeds[0].rejected = 1_000, 300, 0
    clock.advance(timedelta(minutes=1))
    caplog.set_level(logging.DEBUG)
    surfaces: list[tuple[str, str]] = []

    with build_sensor_context(resources={"amperity_ops": runtime}) as context:
        down = amperity_workflow_sla_sensor(context)
    assert isinstance(down, SensorResult)
    assert [r.run_key for r in down.run_requests or []] == [f"stop:{TENANT}:{late.id}"]
    surfaces += [("run request", repr(down.run_requests))]
    failed = [i for i in runtime.store.outbox_items() if i.last_error]
    assert failed, "the sink was down: its error must be kept (redacted) in the outbox"
    with build_sensor_context(resources={"amperity_ops": runtime}) as context:
        ingest = amperity_ingest_sensor(context)
    surfaces += [("ingest skip reason", repr(ingest))]

    handler.up = True
    clock.advance(timedelta(minutes=16))  # past the longest retry delay
    with build_sensor_context(cursor=down.cursor, resources={"amperity_ops": runtime}) as context:
        up = amperity_workflow_sla_sensor(context)
    assert isinstance(up, SensorResult)
    assert up.skip_reason is not None
    surfaces += [("skip reason", up.skip_reason.skip_message or "")]
    assert {(m.get("level"), m.get("workflow_id")) for m in handler.received} >= {
        ("breached", late.id)
    }
    assert any(m.get("dedup_key") == f"amperity-ops:{TENANT}:{late.id}" for m in handler.received)

    instance = DagsterInstance.ephemeral()
    assets = materialize([workflow_runs, ingest_jobs], resources={"amperity_ops": runtime},
                         instance=instance)
    assert assets.success
    stop = stop_amperity_workflow_run.execute_in_process(
        run_config=stop_run_config(
            workflow_id=late.id, reason="secret test", tenant=TENANT, requested_by="tester"
        ),
        resources={"amperity_ops": runtime},
        instance=instance,
    )
    assert stop.success
    for result in (assets, stop):
        surfaces += [("event log", str(r)) for r in instance.all_logs(result.run_id)]
    for event in assets.get_asset_materialization_events():
        surfaces.append((f"metadata of {event.asset_key}", repr(event.materialization.metadata)))
    assert AssetKey(["amperity", "workflow_runs"]) in {
        e.asset_key for e in assets.get_asset_materialization_events()
    }

    surfaces += [("python logs", caplog.text), ("store", _store_text(runtime.store))]
    surfaces += [("repr of the config", repr(config))]
    for where, text in surfaces:
        _assert_clean(where, text)
