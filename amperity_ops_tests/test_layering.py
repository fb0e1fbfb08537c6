"""The layers hold: every import runs down, never up, and packages keep their privates.

Two checks, because each catches what the other cannot:

* **The source** (every ``import`` statement, including those inside functions and under
  ``TYPE_CHECKING``, since a cycle hidden there is still a cycle): which part may import which.
* **A fresh interpreter**: what importing a package really drags into ``sys.modules``, so an
  ``__init__`` that re-exports too much counts too.

Each failure names the offending file, line and import.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "amperity_ops"

# Who may import whom (besides itself). From the ground up: the client and the neutral core
# import nothing of the project; settings add the policy file; monitoring (pure decisions),
# alerts (sinks) and the store sit on those; services join them; defs and the CLI wire
# services to Dagster and to people; the shipped code location is built from defs.
# The simulator, the demo and the test harness stand apart: production never imports them.
_GROUND = frozenset({"client", "core"})
ALLOWED: dict[str, frozenset[str]] = {
    "client": frozenset(),
    "core": frozenset(),
    "redaction": frozenset(),
    "oncall_policy": _GROUND,
    "settings": _GROUND | {"oncall_policy"},
    "monitoring": _GROUND | {"settings"},
    "alerts": _GROUND | {"settings", "redaction"},
    "store": _GROUND | {"settings"},
    "services": _GROUND | {"settings", "monitoring", "alerts", "store", "redaction"},
    "defs": _GROUND | {"settings", "monitoring", "alerts", "store", "redaction", "services"},
    "resources": _GROUND | {"defs"},
    "cli": _GROUND | {"settings", "monitoring", "alerts", "store", "redaction", "services"},
    "definitions": frozenset({"defs"}),
    "polling_definitions": frozenset({"defs"}),
    "components": _GROUND | {"settings", "monitoring", "defs", "services"},
}
APART = frozenset({"simulator", "demo", "testing"})
"""Not production: may import what they need; production may not import them."""
DAGSTER_FREE = frozenset(
    {"client", "core", "redaction", "oncall_policy", "settings", "monitoring", "alerts", "store",
     "services"}
)
"""Everything below ``defs/``: no Dagster here, so the CLI and the tests run without it."""
IO_MODULES = ("httpx", "sqlalchemy", "dagster", "alembic", "redis", "psycopg2")


def _part(module: str) -> str | None:
    """``amperity_ops.services.stop`` -> ``services``; None outside the project."""
    parts = module.split(".")
    return parts[1] if parts[0] == "amperity_ops" and len(parts) > 1 else None


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in a file, wherever it stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name == "__init__.py":
        package = package.rsplit(".", 1)[0] + ".__init__"
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: -node.level]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # ``from amperity_ops.client import _params`` reaches a private module too.
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names
                      if alias.name.startswith("_") and not alias.name.startswith("__")]
    return found


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts[-3:-1])


def test_every_part_is_placed() -> None:
    """Every top-level module or package of amperity_ops has a place in the layering."""
    parts = {p.name.removesuffix(".py") for p in PACKAGE.iterdir()
             if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))}
    unplaced = sorted(parts - set(ALLOWED) - APART - {"__init__"})
    assert unplaced == [], f"place these in ALLOWED or APART: {unplaced}"


def test_imports_run_down_the_layers() -> None:
    """No part imports a higher one, or one it is not allowed to (file:line named)."""
    offences: list[str] = []
    for path in _sources():
        here = _part(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        if here is None or here in APART or here == "__init__":
            continue
        for line, module in _imports(path):
            there = _part(module)
            if there is None or there == here or there == "__init__":
                continue
            if there in APART or there not in ALLOWED[here]:
                offences.append(f"{path.relative_to(PACKAGE.parent)}:{line}: imports {module}")
    assert offences == [], "imports against the layering:\n" + "\n".join(offences)


def test_nothing_below_defs_imports_dagster() -> None:
    """client, core, settings, monitoring, alerts, store and services never import Dagster."""
    offences = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: imports {module}"
        for path in _sources()
        if _part(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        in DAGSTER_FREE
        for line, module in _imports(path)
        if module.split(".")[0] in {"dagster", "dagster_postgres"}
    ]
    assert offences == [], "\n".join(offences)


def test_monitoring_and_core_do_no_io() -> None:
    """The pure decisions import no HTTP, SQL or Dagster module, nor the store or a sink."""
    offences = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: imports {module}"
        for path in _sources()
        if _part(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        in {"monitoring", "core"}
        for line, module in _imports(path)
        if module.split(".")[0] in IO_MODULES
    ]
    assert offences == [], "\n".join(offences)


def test_no_private_module_of_another_package() -> None:
    """Nothing imports a ``_private`` module of another package (use its public surface)."""
    offences: list[str] = []
    for path in _sources():
        mine = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
        for line, module in _imports(path):
            parts = module.split(".")
            for i, part in enumerate(parts):
                if part.startswith("_") and not part.startswith("__"):
                    owner = ".".join(parts[:i])
                    if owner != mine and parts[0] == "amperity_ops":
                        offences.append(
                            f"{path.relative_to(PACKAGE.parent)}:{line}: imports {module}")
                    break
    assert offences == [], "\n".join(offences)


def _loaded_after(module: str) -> set[str]:
    code = (f"import sys, json; import {module}; "
            "print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def _forbidden(loaded: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in loaded if any(m == p or m.startswith(p + ".") for p in prefixes))


@pytest.mark.parametrize(
    ("module", "kept_out"),
    [
        ("amperity_ops.core", ("httpx", "sqlalchemy", "dagster", "pydantic",
                               "amperity_ops.client", "amperity_ops.settings",
                               "amperity_ops.monitoring", "amperity_ops.store",
                               "amperity_ops.alerts", "amperity_ops.services")),
        ("amperity_ops.monitoring", ("httpx", "sqlalchemy", "dagster", "amperity_ops.store",
                                     "amperity_ops.alerts", "amperity_ops.services",
                                     "amperity_ops.simulator")),
        ("amperity_ops.client", ("dagster", "sqlalchemy", "amperity_ops.core",
                                 "amperity_ops.settings", "amperity_ops.monitoring",
                                 "amperity_ops.store", "amperity_ops.alerts",
                                 "amperity_ops.services", "amperity_ops.simulator")),
        ("amperity_ops.store", ("httpx", "dagster", "amperity_ops.alerts",
                                "amperity_ops.monitoring", "amperity_ops.services")),
        ("amperity_ops.alerts", ("sqlalchemy", "dagster", "amperity_ops.store",
                                 "amperity_ops.monitoring", "amperity_ops.services")),
        ("amperity_ops.services", ("dagster", "amperity_ops.simulator", "starlette",
                                   "uvicorn")),
        ("amperity_ops.definitions", ("amperity_ops.simulator", "starlette", "uvicorn")),
    ],
)
def test_a_fresh_import_drags_in_only_what_is_below(module: str, kept_out: tuple[str, ...]) -> None:
    """Importing a part in a fresh interpreter loads nothing above it (named if it does)."""
    dragged = _forbidden(_loaded_after(module), kept_out)
    assert dragged == [], f"import {module} also loaded: {', '.join(dragged)}"
