"""Each core package imports first in a fresh interpreter (no import cycles between them)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    ["amperity_ops.settings", "amperity_ops.monitoring", "amperity_ops.store",
     "amperity_ops.alerts", "amperity_ops.core.durations", "amperity_ops.core.alerts",
     "amperity_ops.core"],
)
def test_imports_first_in_a_fresh_process(module: str) -> None:
    """settings -> monitoring -> alerts -> store may import each other only in a cycle-free way."""
    result = subprocess.run([sys.executable, "-c", f"import {module}"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
