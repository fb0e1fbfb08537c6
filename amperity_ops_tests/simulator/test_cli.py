"""The `amperity-ops simulator` command: options, errors, and a real process serving the API."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from amperity_ops.simulator.cli import simulator

EXE = Path(sys.executable).with_name("amperity-ops")


def test_help_lists_the_documented_options() -> None:
    """--help shows host, port, tenant, token, OAuth, rate limit, speed, seed and fault flags."""
    result = CliRunner().invoke(simulator, ["--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--tenant", "--token", "--client-id", "--client-secret",
                   "--rate-limit", "--speed", "--seed", "--server-errors", "--drop-connections",
                   "--expired-tokens", "--repeat-page-token", "--slow", "--truncated-bodies"):
        assert option in result.output


def test_bad_option_is_a_clear_error_without_traceback() -> None:
    """A bad value names the option and exits 2 without a traceback."""
    result = CliRunner().invoke(simulator, ["--server-error-rate", "3"])
    assert result.exit_code == 2
    assert "--server-error-rate" in result.output
    assert "Traceback" not in result.output


def test_port_in_use_is_a_clear_error() -> None:
    """A port that cannot be bound is reported in one line, exit 1."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(simulator, ["--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
@pytest.mark.skipif(not EXE.exists(), reason="console script not installed")
def test_command_serves_and_prints_credentials() -> None:
    """The command prints base URL and credentials, then answers API calls on that URL."""
    process = subprocess.Popen(
        [str(EXE), "simulator", "--port", "0", "--tenant", "acme", "--tenant", "beta",
         "--quiet-world", "--server-errors", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "Press Ctrl-C" in line or not line:
                break
        output = "".join(lines)
        match = re.search(r"at (http://127\.0\.0\.1:\d+/api)", output)
        assert match, output
        assert "demo-token" in output
        assert "demo-client / demo-secret" in output
        assert "acme, beta" in output
        base = match.group(1)
        headers = {"authorization": "Bearer demo-token", "amperity-tenant": "beta",
                   "api-version": "2024-04-01"}
        assert httpx.get(f"{base}/segments", headers=headers, timeout=5).status_code == 500
        assert httpx.get(f"{base}/segments", headers=headers, timeout=5).status_code == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode in (0, -signal.SIGTERM)
