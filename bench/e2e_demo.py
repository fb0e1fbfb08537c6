"""End-to-end proof: a breach is alerted and stopped by the real Dagster daemon.

Starts, on free ports and with a throwaway ``DAGSTER_HOME``:

* the simulator (in this process, served over a real socket, its clock ``--speed`` times
  faster than real time) with one tenant,
* a webhook receiver (in this process) that the policy's alert sink posts to,
* ``dagster dev`` (webserver, daemon, code server) loading ``workspace.yaml``,

then places one long-running courier group in the simulator and waits for the SLA sensor to
alert and for ``stop_amperity_workflow_run`` to stop it. Everything is read back from where a
person would look: Dagster's GraphQL API (stop job runs and their status, the sensor's ticks),
the webhook receiver (the alert) and the simulator (the run's state).

Prints timings measured from the moment the run breached::

    .venv/bin/python bench/e2e_demo.py [--speed 30] [--timeout 240] [--keep]

Exit status 0 when the run was alerted, stopped by a successful stop job, and nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
TENANT = "e2e"
TOKEN = "e2e-token"
STOP_JOB = "stop_amperity_workflow_run"
SENSOR = "amperity_workflow_sla_sensor"
LOCATION = "amperity_ops"
RUN_NAME = "E2E Courier Group"
WARN_AFTER = timedelta(minutes=5)
MAX_RUNTIME = timedelta(minutes=10)

POLICY = """\
policies:
  - name: e2e-courier
    match: {{name: "E2E Courier*", type: "courier.group/run"}}
    warn_after: {warn}s
    max_runtime: {max}s
    action: stop
auto_stop: {{enabled: true, dry_run: false, max_stops_per_hour: 5}}
alerts:
  - {{kind: webhook, url: "{hook}"}}
  - {{kind: log}}
"""

# Children get SIGINT/SIGTERM at their defaults: `dagster dev` treats SIGTERM like SIGINT, and
# ignores both if SIGINT was ignored when it started (as in any backgrounded shell).
DEFAULT_SIGNALS = (
    "import os, signal, sys\n"
    "for sig in (signal.SIGINT, signal.SIGTERM):\n"
    "    signal.signal(sig, signal.SIG_DFL)\n"
    "os.execvp(sys.argv[1], sys.argv[1:])"
)
BREACH_AFTER_READY_S = 5.0
"""The run is placed so that it crosses max_runtime this many real seconds later."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------ webhook sink
@dataclass
class Received:
    """One alert as the webhook receiver got it."""

    at: float
    body: dict[str, Any]


@dataclass
class WebhookReceiver:
    """A tiny HTTP server recording every JSON POST (the policy's webhook alert sink)."""

    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serves on a free port in a thread; yields the hook URL."""
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                sink.received.append(Received(time.time(), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        finally:
            self._server.shutdown()
            self._server.server_close()

    def about(self, workflow_id: str, level: str) -> list[Received]:
        """Every alert at ``level`` whose JSON mentions the run."""
        return [
            item
            for item in self.received
            if item.body.get("level") == level and workflow_id in json.dumps(item.body)
        ]


# ------------------------------------------------------------------------------ processes
def start_group(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Starts ``cmd`` as the leader of its own process group (so it stops as a whole)."""
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-c", DEFAULT_SIGNALS, *cmd],
        cwd=REPO,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> float:
    """SIGTERM to the process group, SIGKILL after ``timeout``; returns seconds it took."""
    started = time.monotonic()
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)  # the leader shuts its children down itself
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
    return time.monotonic() - started


def group_rss_mib(pgid: int) -> float:
    """Resident memory of every process in a process group, MiB (read from /proc)."""
    total_kib = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) != pgid:  # field 5 of stat: the process group id
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total_kib / 1024


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> float:
    """Polls ``url`` until it answers 200; returns the seconds waited."""
    started = time.monotonic()
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.25)


# ------------------------------------------------------------------------------ GraphQL
class Dagster:
    """The few GraphQL queries the proof needs."""

    def __init__(self, base_url: str) -> None:
        self.url = f"{base_url}/graphql"

    def query(self, text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Runs a GraphQL query; raises on transport or GraphQL errors."""
        answer = httpx.post(
            self.url, json={"query": text, "variables": variables or {}}, timeout=10
        )
        answer.raise_for_status()
        payload = answer.json()
        if payload.get("errors"):
            raise RuntimeError(f"GraphQL errors: {payload['errors']}")
        return dict(payload["data"])

    def selector(self) -> dict[str, str]:
        """The sensor selector (repository name found through the API)."""
        data = self.query(
            "{ repositoriesOrError { ... on RepositoryConnection { nodes { name "
            "location { name } sensors { name } } } } }"
        )
        for repo in data["repositoriesOrError"]["nodes"]:
            if any(s["name"] == SENSOR for s in repo["sensors"]):
                return {
                    "repositoryLocationName": repo["location"]["name"],
                    "repositoryName": repo["name"],
                    "sensorName": SENSOR,
                }
        raise RuntimeError(f"no sensor named {SENSOR} in the workspace: {data}")

    def sensor(self, selector: dict[str, str], ticks: int = 50) -> dict[str, Any]:
        """The sensor's state and its most recent ticks."""
        data = self.query(
            """query($s: SensorSelector!, $n: Int) { sensorOrError(sensorSelector: $s) {
                 __typename ... on Sensor { minIntervalSeconds sensorState { id status
                   ticks(limit: $n) { status timestamp runIds skipReason error { message } } } }
                 ... on PythonError { message } } }""",
            {"s": selector, "n": ticks},
        )
        return dict(data["sensorOrError"])

    def start_sensor(self, selector: dict[str, str]) -> None:
        """Turns the sensor on (it may be declared stopped by default)."""
        self.query(
            """mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) { __typename
                 ... on PythonError { message } } }""",
            {"s": selector},
        )

    def stop_job_runs(self) -> list[dict[str, Any]]:
        """Every run of the stop job, newest first, with status, times and tags."""
        data = self.query(
            """query($f: RunsFilter) { runsOrError(filter: $f) { ... on Runs { results {
                 runId status creationTime startTime endTime tags { key value } } } } }""",
            {"f": {"pipelineName": STOP_JOB}},
        )
        return list(data["runsOrError"]["results"])


# ------------------------------------------------------------------------------ the proof
@dataclass
class Timings:
    """Seconds (real time), measured from the run's breach unless said otherwise."""

    ready_s: float = 0.0
    """From starting `dagster dev` to its webserver answering."""
    breach_at: float = 0.0
    """Wall-clock time (epoch seconds) at which the run crossed max_runtime."""
    alert: float | None = None
    stop_requested: float | None = None
    stopping_seen: float | None = None
    stopped_seen: float | None = None
    stop_job_success: float | None = None
    memory_mib: float = 0.0
    shutdown_s: float = 0.0


def _tag(run: dict[str, Any], key: str) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == key), None)


def run_proof(speed: float, timeout: float, keep: bool, mode: str = "steady") -> int:
    """Runs the whole scenario; prints findings; returns the exit status.

    Args:
        speed: Simulated seconds per real second.
        timeout: Real seconds to wait for the alert and the stop.
        keep: Keep the temporary directory (logs, DAGSTER_HOME) even on success.
        mode: ``steady``: the run breaches a few seconds after Dagster is up, so the timings
            show the latency of a running sensor (at most one 60 s interval). ``fast``: the
            run is already breached when the daemon starts, so its first tick alerts and stops
            (the whole path in well under a minute; used by the test).
    """
    from amperity_ops.client import AmperityClient
    from amperity_ops.simulator import Simulator, TenantSpec

    home = Path(tempfile.mkdtemp(prefix="amperity-ops-e2e-"))
    dagster_home = home / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    timings = Timings()
    receiver = WebhookReceiver()
    sim = Simulator(
        tenants=[TenantSpec(tenant_id=TENANT, static_tokens=(TOKEN,), seed=11)], speed=speed
    )
    problems: list[str] = []
    with receiver.serve() as hook_url, sim.serve() as base_url:
        policy = home / "policy.yaml"
        policy.write_text(
            POLICY.format(
                warn=int(WARN_AFTER.total_seconds()),
                max=int(MAX_RUNTIME.total_seconds()),
                hook=hook_url,
            )
        )
        run = None
        if mode == "fast":  # breached before the daemon's first tick
            run = _place_run(sim, speed, -10.0, timings)
        ui_port = free_port()
        env = {
            **os.environ,
            "DAGSTER_HOME": str(dagster_home),
            "AMPERITY_TENANT_ID": TENANT,
            "AMPERITY_BASE_URL": base_url,
            "AMPERITY_ACCESS_TOKEN": TOKEN,
            "AMPERITY_OPS_CONFIG": str(policy),
            "AMPERITY_OPS_STORE_URL": f"sqlite:///{home / 'amperity_ops.sqlite'}",
            "AMPERITY_OPS_CLOCK": "simulator",
            "PYTHONUNBUFFERED": "1",
        }
        log = home / "dagster.log"
        dagster = start_group(
            [
                str(REPO / ".venv/bin/dagster"),
                "dev",
                "-w",
                "workspace.yaml",
                "-h",
                "127.0.0.1",
                "-p",
                str(ui_port),
            ],
            env,
            log,
        )
        try:
            ui = f"http://127.0.0.1:{ui_port}"
            timings.ready_s = wait_http(f"{ui}/server_info", 180, dagster)
            print(f"dagster dev ready in {timings.ready_s:.1f} s at {ui} (logs: {log})")
            api = Dagster(ui)
            selector = _wait_for_selector(api, 60)
            state = api.sensor(selector)
            if state["sensorState"]["status"] != "RUNNING":
                print(f"sensor {SENSOR} was {state['sensorState']['status']}: starting it")
                api.start_sensor(selector)
            else:
                print(f"sensor {SENSOR} is running (every {state['minIntervalSeconds']} s)")

            if run is None:
                run = _place_run(sim, speed, BREACH_AFTER_READY_S, timings)
            with AmperityClient(TENANT, base_url=base_url, access_token=TOKEN) as client:
                _watch(api, client, receiver, run.id, timings, timeout)
            timings.memory_mib = group_rss_mib(dagster.pid)
            problems += _read_back(api, selector, sim, run.id, receiver)
        except Exception as err:  # the proof reports, it does not hide
            problems.append(f"{type(err).__name__}: {err}")
        finally:
            timings.shutdown_s = stop_group(dagster)
    _report(timings, problems)
    if keep or problems:
        print(f"kept {home} (dagster.log, policy.yaml, DAGSTER_HOME)")
    else:
        shutil.rmtree(home, ignore_errors=True)
    return 1 if problems else 0


def _place_run(sim: Any, speed: float, breach_in_s: float, timings: Timings) -> Any:
    """Places the long courier group so it crosses max_runtime ``breach_in_s`` real s from now."""
    started_ago = MAX_RUNTIME - timedelta(seconds=breach_in_s * speed)
    run = sim.tenant(TENANT).add_run(
        name=RUN_NAME,
        type="courier.group/run",
        state="running",
        started_ago=started_ago,
        finishes_in=timedelta(hours=6),
    )
    timings.breach_at = time.time() + breach_in_s
    print(
        f"placed {run.id} ({RUN_NAME}), running for {started_ago}; it crosses max_runtime "
        f"{MAX_RUNTIME} {'in' if breach_in_s >= 0 else 'since'} {abs(breach_in_s):.0f} s"
    )
    return run


def _wait_for_selector(api: Dagster, timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return api.selector()
        except (RuntimeError, httpx.HTTPError, KeyError, TypeError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _watch(
    api: Dagster,
    client: Any,
    receiver: WebhookReceiver,
    workflow_id: str,
    timings: Timings,
    timeout: float,
) -> None:
    """Polls the simulator, the webhook receiver and GraphQL until the stop job succeeded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = time.time()
        if timings.alert is None:
            hits = receiver.about(workflow_id, "breached")
            if hits:
                timings.alert = hits[0].at - timings.breach_at
                print(f"  alert received  {timings.alert:+6.1f} s")
        state = client.get_workflow_run(workflow_id).state
        if timings.stopping_seen is None and state.kind.value in ("stopping", "stopped"):
            timings.stopping_seen = now - timings.breach_at
            print(f"  run {state.raw:<9}   {timings.stopping_seen:+6.1f} s")
        if timings.stopped_seen is None and state.is_terminal:
            timings.stopped_seen = now - timings.breach_at
            print(f"  run {state.raw:<9}   {timings.stopped_seen:+6.1f} s")
        for run in api.stop_job_runs():
            if workflow_id not in (_tag(run, "dagster/run_key") or ""):
                continue
            if timings.stop_requested is None:
                timings.stop_requested = float(run["creationTime"]) - timings.breach_at
                print(f"  stop requested  {timings.stop_requested:+6.1f} s ({run['runId'][:8]})")
            if run["status"] == "SUCCESS" and timings.stop_job_success is None:
                timings.stop_job_success = now - timings.breach_at
                print(f"  stop job done   {timings.stop_job_success:+6.1f} s")
        if (
            timings.stop_job_success is not None
            and timings.stopped_seen is not None
            and (timings.alert is not None)
        ):
            return
        time.sleep(0.5)
    raise TimeoutError(f"no complete alert + stop within {timeout:.0f} s")


def _read_back(
    api: Dagster, selector: dict[str, str], sim: Any, workflow_id: str, receiver: WebhookReceiver
) -> list[str]:
    """What Dagster, the webhook and the simulator say afterwards; returns the problems found."""
    problems = []
    breached = receiver.about(workflow_id, "breached")
    print(
        f"webhook: {len(receiver.received)} alert(s) received, {len(breached)} 'breached' "
        f"for {workflow_id}: {breached[0].body.get('title', '') if breached else '-'}"
    )
    if len(breached) != 1:
        problems.append(f"expected one 'breached' alert for the run, got {len(breached)}")
    runs = [r for r in api.stop_job_runs() if workflow_id in (_tag(r, "dagster/run_key") or "")]
    print(
        f"GraphQL: {len(runs)} run(s) of {STOP_JOB} for {workflow_id}: "
        + ", ".join(f"{r['runId'][:8]} {r['status']}" for r in runs)
    )
    if [r["status"] for r in runs] != ["SUCCESS"]:
        problems.append(f"expected exactly one successful stop job run, got {runs}")
    sensor = api.sensor(selector)
    ticks = sensor["sensorState"]["ticks"]
    with_runs = [t for t in ticks if t["runIds"]]
    print(
        f"GraphQL: sensor {SENSOR}: {len(ticks)} recent ticks, {len(with_runs)} requested runs; "
        f"latest: {ticks[0]['status'] if ticks else '-'} "
        f"{(ticks[0].get('skipReason') or '') if ticks else ''}"
    )
    if not with_runs:
        problems.append("no sensor tick requested a run")
    final = sim.tenant(TENANT).state_of(workflow_id)
    print(f"simulator: {workflow_id} is {final}")
    if final != "stopped":
        problems.append(f"the run is {final}, not stopped")
    return problems


def _report(t: Timings, problems: list[str]) -> None:
    def fmt(value: float | None) -> str:
        return "never" if value is None else f"{value:6.1f} s"

    print()
    print("timings (real seconds after the breach)")
    print(f"  breach -> alert delivered (webhook)   {fmt(t.alert)}")
    print(f"  breach -> stop requested (job run)    {fmt(t.stop_requested)}")
    print(f"  breach -> run stopping (simulator)    {fmt(t.stopping_seen)}")
    print(f"  breach -> run stopped (simulator)     {fmt(t.stopped_seen)}")
    print(f"  breach -> stop job SUCCESS            {fmt(t.stop_job_success)}")
    print(
        f"dagster dev: ready in {t.ready_s:.1f} s, {t.memory_mib:.0f} MiB RSS, "
        f"stopped in {t.shutdown_s:.1f} s"
    )
    print("RESULT: " + ("ok" if not problems else "FAILED\n  " + "\n  ".join(problems)))


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=30.0, help="simulated seconds per second")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for a stop")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    parser.add_argument(
        "--mode",
        choices=["steady", "fast"],
        default="steady",
        help="steady: breach after Dagster is up (sensor latency); fast: breached at start",
    )
    args = parser.parse_args(argv)
    print(f"e2e: mode {args.mode}, simulator speed x{args.speed:g}")
    started = time.monotonic()
    status = run_proof(args.speed, args.timeout, args.keep, args.mode)
    print(f"e2e: {time.monotonic() - started:.0f} s in all")
    return status


if __name__ == "__main__":
    sys.exit(main())
