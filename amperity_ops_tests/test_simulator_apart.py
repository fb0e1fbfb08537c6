"""The simulator is apart: production code never imports it, and its web stack is an extra.

A plain ``pip install amperity-ops`` is the monitor (the code location and the CLI) without
starlette or uvicorn; ``amperity-ops[simulator]`` adds the simulated tenant. Import checks run in
a fresh interpreter, so what a package's ``__init__`` drags in counts.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import json
import os
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import amperity_ops

PACKAGE = Path(amperity_ops.__file__).parent
REPO = PACKAGE.parent
WEB_STACK = ("starlette", "uvicorn")
NOT_PRODUCTION = ("amperity_ops.simulator", "amperity_ops.demo", "amperity_ops.testing")
"""The simulator itself, the demo (which runs it) and the test harness."""

USED_WITHOUT_IMPORT = {
    # `storage: postgres` in deploy/dagster.prod.yaml is Dagster's Postgres storage.
    "dagster-postgres": ("deploy/dagster.prod.yaml", "storage:\n  postgres:"),
}
"""Declared dependencies no module imports, and the file that shows what they are for."""


def _fresh(code: str, *, blocked: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` in a new interpreter where the packages in ``blocked`` are not installed."""
    prelude = (
        "import sys\n"
        "class NotInstalled:\n"  # a finder that fails as a missing package does
        "    def find_spec(self, name, path=None, target=None):\n"
        "        top = name.partition('.')[0]\n"
        f"        if top in {blocked!r}:\n"
        "            raise ModuleNotFoundError(f'No module named {top!r}', name=top)\n"
        "sys.meta_path.insert(0, NotInstalled())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "AMPERITY_OPS_CLOCK"}
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True,
                          text=True, timeout=120, check=False, env=env, cwd=REPO)


def _requirements(extra: str | None) -> list[Requirement]:
    """amperity-ops's installed requirements: a plain install's (None), or only one extra's."""
    found = []
    for text in metadata.requires("amperity-ops") or []:
        requirement = Requirement(text)
        marker = requirement.marker
        plain = marker is None or marker.evaluate({"extra": ""})
        if plain if extra is None else (not plain and marker.evaluate({"extra": extra})):
            found.append(requirement)
    return found


def _names(requirements: list[Requirement]) -> set[str]:
    return {canonicalize_name(r.name) for r in requirements}


def _closure(requirements: list[Requirement]) -> set[str]:
    """Every distribution a plain install of ``requirements`` pulls in (from what is installed)."""
    seen: set[str] = set()
    todo = list(requirements)
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            nested = Requirement(text)
            if nested.marker is None or nested.marker.evaluate({"extra": ""}):
                todo.append(nested)
    return seen


def _imports(path: Path) -> set[str]:
    """Absolute module names a source file imports (anywhere in it, lazily or not)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_code_location_and_cli_load_without_the_simulator() -> None:
    """Importing the code location and the CLI leaves the simulator and its web stack unloaded."""
    result = _fresh(
        "import json, amperity_ops.definitions, amperity_ops.cli\n"
        f"watched = {[*NOT_PRODUCTION, *WEB_STACK]!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules\n"
        "                        if any(m == w or m.startswith(w + '.') for w in watched))))\n"
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"loaded by amperity_ops.definitions / amperity_ops.cli: {loaded}"


def test_code_location_loads_with_the_web_stack_missing() -> None:
    """With starlette and uvicorn not installed, the code location still loads its definitions."""
    result = _fresh(
        "from amperity_ops.definitions import defs\n"
        "print(sorted(job.name for job in defs.resolve_all_job_defs()))\n",
        blocked=WEB_STACK,
    )
    assert result.returncode == 0, result.stderr
    assert "stop_amperity_workflow_run" in result.stdout


def test_no_production_module_imports_the_simulator() -> None:
    """Outside the simulator, the demo and the test harness, no module imports any of them."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        if module.startswith(NOT_PRODUCTION):
            continue
        for name in sorted(_imports(path)):
            if name.startswith(NOT_PRODUCTION) or name.split(".")[0] in WEB_STACK:
                offenders.append(f"{module} imports {name}")
    assert offenders == []


def test_the_web_stack_is_only_an_extra() -> None:
    """starlette and uvicorn are the simulator extra's; neither a plain install nor filelock."""
    base = _requirements(None)
    assert _names(_requirements("simulator")) == set(WEB_STACK)
    assert _names(_requirements("webserver")) == {"dagster-webserver"}
    assert not _names(base) & {*WEB_STACK, "dagster-webserver", "filelock"}
    pulled = _closure(base)
    assert "dagster" in pulled  # the closure was really walked
    assert not pulled & set(WEB_STACK), "a plain install would pull in the simulator's web stack"


def test_every_declared_dependency_is_used() -> None:
    """Each base and simulator dependency is imported by the package (or named where it is used)."""
    imported = {name.split(".")[0] for path in PACKAGE.rglob("*.py") for name in _imports(path)}
    providers = metadata.packages_distributions()
    used = {canonicalize_name(dist) for module in imported for dist in providers.get(module, ())}
    unused = []
    for requirement in [*_requirements(None), *_requirements("simulator")]:
        name = canonicalize_name(requirement.name)
        if name in used:
            continue
        where, text = USED_WITHOUT_IMPORT.get(name, (None, None))
        if where is None or text not in (REPO / where).read_text():
            unused.append(name)
    assert unused == []


def test_simulator_command_without_its_extra_says_what_to_install() -> None:
    """`amperity-ops simulator` without starlette/uvicorn: one line, the pip command, exit 1."""
    result = _fresh("from amperity_ops.cli import main\nsys.argv = ['amperity-ops', 'simulator']\n"
                    "main()\n", blocked=WEB_STACK)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Error: the `simulator` command needs the simulator extra: "
        "pip install 'amperity-ops[simulator]'"
    ]
    listed = _fresh("from amperity_ops.cli import main\nsys.argv = ['amperity-ops', 'runs', "
                    "'--help']\nmain()\n", blocked=WEB_STACK)
    assert listed.returncode == 0, listed.stderr  # the other commands are unaffected


def test_simulator_clock_without_its_extra_says_what_to_install() -> None:
    """AMPERITY_OPS_CLOCK=simulator without the extra: a ValueError naming the pip command."""
    result = _fresh(
        "import os\nos.environ['AMPERITY_OPS_CLOCK'] = 'simulator'\n"
        "from amperity_ops.services.clock import clock_from_env\n"
        "try:\n    clock_from_env('http://127.0.0.1:8765/api')\n"
        "except ValueError as err:\n    print(err)\n",
        blocked=WEB_STACK,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "AMPERITY_OPS_CLOCK=simulator: cannot import amperity_ops.simulator.clock (no module "
        "named 'starlette'); pip install 'amperity-ops[simulator]'"
    )
