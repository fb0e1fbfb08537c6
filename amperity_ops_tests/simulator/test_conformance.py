"""Conformance: the simulator's answers validate against Amperity's own OpenAPI documents.

Schemathesis generates requests from each document (property-based, positive data) and runs
them against the app in-process with valid tenant and bearer headers; every answer must use a
documented status code and content type and match the documented schema. One deliberate
deviation, from NOTES.md: error bodies carry ``request_id`` although the control-plane
documents' ``ErrorResponse`` forbids extra properties; the checked copy of the documents
allows exactly that, and ``test_error_bodies_follow_notes_not_spec`` pins it.
"""

from __future__ import annotations

import copy
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance

import amperity_ops.simulator
from amperity_ops.simulator import ManualClock, Simulator, TenantSpec

SPECS = Path(amperity_ops.simulator.__file__).parent / "specs"
REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "conformance-token"
MAX_EXAMPLES = 12


def _world() -> Simulator:
    sim = Simulator(
        [TenantSpec("acme", static_tokens=(TOKEN,), seed=11, history_days=2)],
        clock=ManualClock(),
        rate_limit_rps=None,  # 429 is not a documented control-plane answer
    )
    world = sim.tenant("acme")
    # Runs carrying the ids of the documents' examples, so generated requests find them.
    world.add_run(run_id="wf-20240603-12345-MNabc", state="running",
                  started_ago=timedelta(hours=2), warn_after_ms=3_600_000)
    world.add_run(run_id="wf-20240619-14418-6UhqSe", state="failed", started_ago=3600,
                  type="campaign.send")
    return sim


SIM = _world()


def _load(name: str) -> Any:
    spec = json.loads((SPECS / name).read_text())
    relaxed = copy.deepcopy(spec)
    error = relaxed["components"]["schemas"]["ErrorResponse"]
    error.pop("additionalProperties", None)  # NOTES.md: the live service adds request_id
    error["properties"].setdefault("request_id", {"type": "string"})
    error["properties"].setdefault("trace_id", {"type": "string"})
    schema = schemathesis.openapi.from_dict(relaxed)
    schema.app = SIM.app
    return schema


control_plane = _load("control-plane-2024-04-01.openapi.json")
unstable = _load("control-plane-unstable.openapi.json")
profile = _load("profile-2025-07-31.openapi.json")

_FAST = settings(max_examples=MAX_EXAMPLES, deadline=None,
                 suppress_health_check=list(HealthCheck), derandomize=True, database=None)


def _call(case: Case) -> None:
    assert case.headers is not None
    case.headers["amperity-tenant"] = "acme"
    # The bearer token goes in as explicit auth, so schemathesis' ignored_auth check also
    # replays each request without it and with a wrong one, and expects 401/403.
    # positive_data_acceptance is left out on purpose: the documents list 400 for values that
    # are well-typed but wrong in meaning (a next_token we never issued, limit=0, an ingest
    # window over 7 days, an unknown config_id), which a schema cannot express. Every other
    # default check applies, including that 400 is a documented answer for the operation.
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"},
        excluded_checks=[positive_data_acceptance],
    )
    assert response.status_code < 500


@control_plane.parametrize()
@_FAST
def test_control_plane_2024_04_01_conforms(case: Case) -> None:
    """Every control-plane 2024-04-01 operation answers as its document says."""
    _call(case)


@unstable.parametrize()
@_FAST
def test_control_plane_unstable_conforms(case: Case) -> None:
    """Every control-plane unstable operation (campaign drafts too) answers as documented."""
    _call(case)


@profile.parametrize()
@_FAST
def test_profile_api_conforms(case: Case) -> None:
    """Every Profile API 2025-07-31 operation answers as its document says."""
    _call(case)


def test_error_bodies_follow_notes_not_spec() -> None:
    """Error bodies add request_id (NOTES.md) although the spec's ErrorResponse forbids it."""
    spec = json.loads((SPECS / "control-plane-2024-04-01.openapi.json").read_text())
    assert spec["components"]["schemas"]["ErrorResponse"]["additionalProperties"] is False
    with SIM.http_client("acme", token=TOKEN) as client:
        body = client.get("/workflow/runs/wf-20990101-00000-absent").json()
    assert set(body) == {"status", "message", "request_id"}
    assert body["status"] == 404


def official_documents() -> Path:
    """Where the official documents are: ``../shared/amperity-api`` beside the repository.

    In CI that directory is a read-only copy beside the clone. ``AMPERITY_API_DOCS`` points
    elsewhere (e.g. from a git worktree, whose parent holds no ``shared/``).
    """
    given = os.environ.get("AMPERITY_API_DOCS")
    return Path(given) if given else REPO_ROOT.parent / "shared" / "amperity-api"


def test_specs_are_packaged_verbatim() -> None:
    """The packaged documents are the official ones from ../shared/amperity-api (unchanged)."""
    shared = official_documents()
    assert shared.is_dir(), (
        f"the official Amperity API documents are missing: expected them in {shared} "
        "(../shared/amperity-api beside the repository, or set AMPERITY_API_DOCS)"
    )
    packaged_names = sorted(p.name for p in SPECS.glob("*.json"))
    assert packaged_names == ["control-plane-2024-04-01.openapi.json",
                              "control-plane-unstable.openapi.json",
                              "profile-2025-07-31.openapi.json"]
    for name in packaged_names:
        packaged = json.loads((SPECS / name).read_text())
        assert packaged["openapi"].startswith("3.")
        official = shared / name
        assert official.is_file(), f"{official} is missing: the packaged {name} has no original"
        assert packaged == json.loads(official.read_text()), f"{name} differs from {official}"
