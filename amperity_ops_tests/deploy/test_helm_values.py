"""deploy/helm/values-shards.yaml, checked offline: it loads, names real entry points and settings.

What a cluster would tell us late is checked here early: every code location's command imports
a real module and attribute of this project, each shard's location keeps exactly its share of
the tenants, the shards cover all shards once, every environment variable set is one the
project reads, and no secret is written in the file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import DagsterRun
from dagster._utils.tags import TagConcurrencyLimitsCounter

from amperity_ops.client.connection import ENV_PREFIX, TenantConnection
from amperity_ops.definitions import defs
from amperity_ops.defs.jobs import stop_run_tags
from amperity_ops.monitoring.shards import SHARD_ENV, parse_shard, shard_of

VALUES = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "values-shards.yaml"
PACKAGE = Path(__file__).resolve().parents[2] / "amperity_ops"
CHART_KEYS = {
    # Top-level keys of dagster/dagster's values (helm/dagster/schema/.../values.py, concurrency).
    "dagsterWebserver", "dagster-user-deployments", "postgresql",
    "generatePostgresqlPasswordSecret", "generateCeleryConfigSecret", "rabbitmq", "redis",
    "flower", "ingress", "imagePullSecrets",
    "computeLogManager", "scheduler", "runLauncher", "pythonLogs", "dagsterDaemon", "busybox",
    "migrate", "telemetry", "serviceAccount", "global", "retention", "additionalInstanceConfig",
    "concurrency",
}
CREDENTIAL_VARIABLES = {
    "AMPERITY_ACCESS_TOKEN", "AMPERITY_CLIENT_SECRET", "AMPERITY_OPS_STORE_URL",
    "AMPERITY_RATE_LIMIT_BACKEND", "DAGSTER_PG_PASSWORD",
}
"""Variables that hold a secret (or a URL that may carry one): only ever from envSecrets."""

LOAD_LOCATIONS = """
import importlib, json, os, sys
from dagster import Definitions
locations, base_env = json.loads(sys.argv[1]), dict(os.environ)
out = {}
for name, module, attribute, env in locations:
    os.environ.clear(); os.environ.update({**base_env, **env})
    if module in sys.modules:
        mod = importlib.reload(sys.modules[module])
    else:
        mod = importlib.import_module(module)
    found = getattr(mod, attribute)
    assert isinstance(found, Definitions), (name, type(found))
    repo = found.get_repository_def()
    runtime = found.resources["amperity_ops"].create_resource(None)
    try:
        jobs = [j.name for j in repo.get_all_jobs() if not j.name.startswith("__")]
        out[name] = {"sensors": sorted(s.name for s in repo.sensor_defs), "jobs": sorted(jobs),
                     "assets": sorted(k.to_user_string() for k in repo.assets_defs_by_key),
                     "tenants": [t.name for t in runtime.tenants]}
    finally:
        runtime.close()
print(json.dumps(out))
"""


def _values() -> dict[str, Any]:
    data = yaml.safe_load(VALUES.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _deployments() -> list[dict[str, Any]]:
    return list(_values()["dagster-user-deployments"]["deployments"])


def _entry_point(deployment: dict[str, Any]) -> tuple[str, str]:
    args = deployment["dagsterApiGrpcArgs"]
    assert len(args) == 4, deployment["name"]
    assert (args[0], args[2]) == ("-m", "-a"), deployment["name"]
    return args[1], args[3]


def _project_variables() -> set[str]:
    """Every AMPERITY_* / DAGSTER_PG_* name the package reads (literals, and tenant fields)."""
    pattern = re.compile(r"\b((?:AMPERITY|DAGSTER_PG)_[A-Z0-9_]+)\b")
    names = {m for path in PACKAGE.rglob("*.py") for m in pattern.findall(path.read_text())}
    names |= set(pattern.findall((VALUES.parents[1] / "dagster.prod.yaml").read_text()))
    names |= {ENV_PREFIX + field.upper() for field in TenantConnection.model_fields}
    return names


def test_the_values_load_and_use_only_the_charts_keys() -> None:
    """The file is YAML whose top-level keys are all dagster/dagster chart values."""
    assert set(_values()) <= CHART_KEYS, set(_values()) - CHART_KEYS


def test_k8s_launcher_postgres_from_a_secret_daemon_threads_and_run_monitoring() -> None:
    """The production blocks: K8sRunLauncher, external Postgres, sensor threads, monitoring."""
    values = _values()
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]
    daemon = values["dagsterDaemon"]
    assert daemon["sensors"]["useThreads"] is True
    assert daemon["sensors"]["numWorkers"] >= 2 * sum(
        1 for d in _deployments() if SHARD_ENV in (d.get("env") or {}))
    assert daemon["runMonitoring"]["enabled"] is True
    assert all(d["includeConfigInLaunchedRuns"]["enabled"] for d in _deployments())


def test_the_stop_caps_name_the_stop_runs_real_tags() -> None:
    """The queue caps stops fleet-wide and per tenant, on the tags stop runs really carry."""
    runs = _values()["concurrency"]["runs"]
    limits = runs["tagConcurrencyLimits"]
    counter = TagConcurrencyLimitsCounter(limits, [_stop_run("acme")])
    assert counter.is_blocked(_stop_run("acme"))  # one stop at a time per tenant
    assert not counter.is_blocked(_stop_run("globex"))  # other tenants' stops go side by side
    fleet = [lim["limit"] for lim in limits if lim.get("value") == "stop"]
    counter = TagConcurrencyLimitsCounter(limits, [_stop_run(f"t{i}") for i in range(fleet[0])])
    assert counter.is_blocked(_stop_run("one-more"))  # the fleet-wide stop cap
    assert fleet[0] < runs["maxConcurrentRuns"]  # room left for the polls and other jobs


def _stop_run(tenant: str) -> DagsterRun:
    """A stop run as the SLA sensor queues it: the job's tags and its RunRequest's."""
    job_tags = defs.resolve_job_def("stop_amperity_workflow_run").tags
    return DagsterRun(job_name="stop_amperity_workflow_run", tags={
        **job_tags, **stop_run_tags(workflow_id="wf-20240619-14418-6UhqSe", tenant=tenant,
                                    requested_by="sensor amperity_workflow_sla_sensor")})


def test_the_shards_cover_every_shard_exactly_once() -> None:
    """AMPERITY_OPS_SHARD values are k/n for one n and every k from 1 to n, once each."""
    shards = [parse_shard((d.get("env") or {}).get(SHARD_ENV)) for d in _deployments()]
    sharded = [s for s in shards if s is not None]
    assert sharded, "no shard deployment"
    assert {s.count for s in sharded} == {len(sharded)}
    assert sorted(s.index for s in sharded) == list(range(1, len(sharded) + 1))
    unsharded = [d for d, s in zip(_deployments(), shards, strict=True) if s is None]
    assert [_entry_point(d) for d in unsharded] == [("amperity_ops.polling_definitions", "defs")]


def test_every_variable_set_is_one_the_project_reads() -> None:
    """env keys, and the variables the header says the secrets hold, are read by the project."""
    known = _project_variables()
    set_here = {key for d in _deployments() for key in (d.get("env") or {})}
    in_secrets = set(re.findall(r"^#\s+amperity-ops-\w+\s+([A-Z_]+)=", VALUES.read_text(),
                                flags=re.MULTILINE))
    assert in_secrets == {"AMPERITY_OPS_STORE_URL", "AMPERITY_RATE_LIMIT_BACKEND"}
    assert set_here | in_secrets <= known, (set_here | in_secrets) - known


def test_no_secret_is_written_in_the_file() -> None:
    """Credentials only come from Kubernetes secrets: no password, token or credentialed URL."""
    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                secretish = re.search(r"password|token|secret", str(key), re.IGNORECASE)
                if secretish and not str(key).endswith(("Name", "Secrets", "Secret")):
                    assert value in ("", None), f"{path}.{key} holds a literal secret"
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")
        elif isinstance(node, str):
            assert not re.search(r"://[^/@\s]*:[^/@\s]*@", node), f"{path}: credentials in a URL"

    walk(_values(), "values")
    for deployment in _deployments():
        literal = set(deployment.get("env") or {}) & CREDENTIAL_VARIABLES
        assert not literal, f"{deployment['name']}: set {literal} from envSecrets instead"
        assert deployment.get("envSecrets"), deployment["name"]


@pytest.mark.slow
def test_every_code_location_command_loads_with_its_shard_of_the_tenants(tmp_path: Path) -> None:
    """Each deployment's -m/-a, with its env, loads Definitions holding the right tenants."""
    names = [f"tenant-{i:02d}" for i in range(40)]
    policy = tmp_path / "policy.yaml"
    policy.write_text("tenants:\n" + "".join(
        f"  - {{name: {n}, tenant_id: {n}, access_token: not-used}}\n" for n in names))
    locations = []
    for deployment in _deployments():
        module, attribute = _entry_point(deployment)
        env = {**(deployment.get("env") or {}), "AMPERITY_OPS_CONFIG": str(policy)}
        locations.append((deployment["name"], module, attribute, env))
    base = {k: v for k, v in os.environ.items() if not k.startswith("AMPERITY_")}
    base["AMPERITY_OPS_STORE_URL"] = f"sqlite:///{tmp_path / 'store.sqlite'}"
    done = subprocess.run([sys.executable, "-c", LOAD_LOCATIONS, json.dumps(locations)],
                          env=base, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])

    covered: list[str] = []
    for deployment in _deployments():
        seen = loaded[deployment["name"]]
        shard = parse_shard((deployment.get("env") or {}).get(SHARD_ENV))
        if shard is None:  # the assets' location: every tenant, no sensor
            assert seen["tenants"] == names
            assert seen["sensors"] == []
            assert "amperity/workflow_runs" in seen["assets"]
            continue
        assert seen["tenants"] == [n for n in names if shard_of(n, shard.count) == shard.index]
        assert seen["sensors"] == ["amperity_ingest_sensor", "amperity_workflow_sla_sensor"]
        assert seen["jobs"] == ["stop_amperity_workflow_run", "stop_amperity_workflow_runs"]
        assert seen["assets"] == []
        covered += seen["tenants"]
    assert sorted(covered) == names  # every tenant in exactly one shard

