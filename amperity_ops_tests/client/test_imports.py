"""The client package stands alone: what importing it loads, checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys


def _modules_after(statement: str) -> list[str]:
    """The names in sys.modules after running ``statement`` in a new Python process."""
    probe = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_the_models_load_without_httpx() -> None:
    """import amperity_ops.client.models (what monitoring/ reads) leaves httpx unloaded."""
    loaded = _modules_after("import amperity_ops.client.models")
    assert "amperity_ops.client.models" in loaded
    assert "httpx" not in loaded


def test_the_client_package_loads_nothing_else_of_the_project_nor_dagster() -> None:
    """import amperity_ops.client loads no dagster, no sqlalchemy, no other amperity_ops part."""
    loaded = _modules_after("import amperity_ops.client")
    assert "amperity_ops.client" in loaded
    offending = [
        name for name in loaded
        if name.split(".")[0] in ("dagster", "sqlalchemy", "httpx")
        or (name.startswith("amperity_ops.") and not name.startswith("amperity_ops.client"))
    ]
    assert offending == []


def test_every_public_name_resolves_and_the_client_loads_on_first_use() -> None:
    """Every name in __all__ resolves; AmperityClient is the real class, loaded when asked."""
    loaded = _modules_after(
        "import amperity_ops.client as c; "
        "missing = [n for n in c.__all__ if not hasattr(c, n)]; "
        "assert not missing, missing; "
        "assert c.AmperityClient.__module__ == 'amperity_ops.client._client'; "
        "assert 'AmperityClient' in dir(c)"
    )
    assert "httpx" in loaded
