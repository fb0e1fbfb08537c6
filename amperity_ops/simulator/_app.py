"""The Amperity API, as served by the simulator (a Starlette app; every path under /api).

Each request goes through one pipeline, in this order (the order is part of the behaviour):

1. tenant: ``amperity-tenant`` (or ``X-Amperity-Tenant`` on the OAuth endpoint); missing or
   unknown -> 401;
2. the rate limiter (per tenant, when on) -> 429;
3. faults (drop, 429 storm, 5xx, slowness);
4. bearer token -> 401 (bad, other tenant, expired, or the expired-tokens fault); a read-only
   token on a POST -> 403;
5. ``api-version`` for the endpoint's family -> 401 when missing or unsupported;
6. the endpoint itself; then a truncated-body fault may cut a 200 answer, or a lost-answer
   fault closes the connection after the endpoint acted.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from amperity_ops.simulator import _pagination as pages
from amperity_ops.simulator._auth import Principal, TokenRejectedError
from amperity_ops.simulator._faults import FaultDecision, make_odd
from amperity_ops.simulator._http import (
    RAW_SEND_KEY,
    BadRequestError,
    DroppedConnection,
    error_response,
    json_response,
)
from amperity_ops.simulator._tenant import TenantRuntime
from amperity_ops.simulator._timeutil import TimeParseError, parse_bound
from amperity_ops.simulator._world import StopRefusedError, TenantWorld, UnknownConfigError

if TYPE_CHECKING:
    from amperity_ops.simulator._simulator import Simulator

API_PREFIX = "/api"
CONTROL_PLANE_VERSIONS = ("2024-04-01", "unstable")
UNSTABLE_ONLY = ("unstable",)
PROFILE_VERSIONS = ("2025-07-31",)

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_INGEST_WINDOW = timedelta(days=7)
#: Stopping a finished run: the stop endpoint documents 400 (not 409), so that is what we send.
STOP_REFUSED_STATUS = 400


@dataclass
class Context:
    """Everything an endpoint needs about the request it answers."""

    request: Request
    tenant: TenantRuntime
    world: TenantWorld
    request_id: str
    decision: FaultDecision
    principal: Principal
    version: str

    @property
    def query(self) -> Any:
        """The query parameters."""
        return self.request.query_params


Handler = Callable[[Context], Awaitable[Response]]


class _SimStarlette(Starlette):
    """Starlette that remembers the server's own ``send`` so a fault can hang up the socket."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[RAW_SEND_KEY] = send
        await super().__call__(scope, receive, send)


# ------------------------------------------------------------------ parameters
def _int_param(ctx: Context, name: str, default: int, low: int, high: int) -> int:
    raw = ctx.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise BadRequestError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool_param(ctx: Context, name: str) -> bool:
    raw = ctx.query.get(name)
    if raw is None:
        return False
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise BadRequestError(f"{name} must be true or false, got {raw!r}")


def _time_param(ctx: Context, name: str, *, upper: bool, required: bool = False) -> float | None:
    raw = ctx.query.get(name)
    if raw is None:
        if required:
            raise BadRequestError(f"{name} is required (ISO-8601, UTC)")
        return None
    try:
        return parse_bound(raw, upper=upper)
    except TimeParseError as err:
        raise BadRequestError(f"{name}: {err}") from None


def _page_params(ctx: Context, kind: str, filters: Iterable[str]) -> tuple[int, Any, int, bool]:
    """(limit, decoded cursor or None, fingerprint, with_total) for a list endpoint."""
    limit = _int_param(ctx, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    with_total = _bool_param(ctx, "with_total")
    present = [(name, ctx.query[name]) for name in filters if name in ctx.query]
    print_ = pages.fingerprint(kind, present)
    token = ctx.query.get("next_token")
    after = None
    if token is not None:
        if token == "":
            raise BadRequestError("next_token must not be empty; omit it for the first page")
        try:
            after = pages.decode(token, print_)
        except pages.PageTokenError as err:
            raise BadRequestError(str(err)) from None
    return limit, after, print_, with_total


def _page_body(
    ctx: Context,
    data: list[Any],
    next_key: tuple[Any, ...] | None,
    print_: int,
    total: int | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"data": data}
    if next_key is not None:
        body["next_token"] = pages.encode(next_key, print_)
    given = ctx.query.get("next_token")
    if ctx.decision.repeat_page_token and given:
        body["next_token"] = given  # the fault: hand back the very token we were given
    if total is not None:
        body["total"] = total
    return body


def _static_page(ctx: Context, kind: str, items: list[Any], filters: Iterable[str]) -> Response:
    limit, after, print_, with_total = _page_params(ctx, kind, filters)
    start = 0
    if after is not None:
        if len(after) != 1 or not isinstance(after[0], int) or not 0 <= after[0] <= len(items):
            raise BadRequestError("next_token is not a token this API issued.")
        start = after[0]
    end = start + limit
    next_key = (end,) if end < len(items) else None
    body = _page_body(ctx, items[start:end], next_key, print_, len(items) if with_total else None)
    if ctx.decision.broken_envelope:
        body = {"items": body.pop("data"), **body}
    return json_response(200, body)


# ------------------------------------------------------------------ endpoints
_RUN_FILTERS = ("created_from", "created_to", "ended_from", "ended_to", "state", "type")


async def list_workflow_runs(ctx: Context) -> Response:
    """GET /workflow/runs: newest first, every documented filter, cursor pages."""
    limit, after, print_, with_total = _page_params(ctx, "runs", _RUN_FILTERS)
    if after is not None and (len(after) != 2 or not isinstance(after[1], str)):
        raise BadRequestError("next_token is not a token this API issued.")
    now = ctx.world.advance()
    runs, next_key, total = ctx.world.list_runs(
        created_from=_time_param(ctx, "created_from", upper=False),
        created_to=_time_param(ctx, "created_to", upper=True),
        ended_from=_time_param(ctx, "ended_from", upper=False),
        ended_to=_time_param(ctx, "ended_to", upper=True),
        state=ctx.query.get("state") or None,
        type=ctx.query.get("type") or None,
        after=(float(after[0]), after[1]) if after is not None else None,
        limit=limit,
        with_total=with_total,
        now=now,
    )
    # The page is assembled from each run's cached JSON: encoding is most of a list's cost.
    envelope = _page_body(ctx, [], next_key, print_, total)
    rest = json.dumps(envelope, separators=(",", ":"))[len('{"data":[]'):]
    records = [run.to_json(now) for run in runs]
    for index in range(min(ctx.decision.odd_records, len(records))):
        odd = make_odd(json.loads(records[index]), ctx.decision.odd_kind)
        records[index] = json.dumps(odd, separators=(",", ":"), ensure_ascii=False).encode()
    key = b'{"items":[' if ctx.decision.broken_envelope else b'{"data":['
    content = key + b",".join(records) + b"]" + rest.encode()
    return Response(content, status_code=200, media_type="application/json")


async def get_workflow_run(ctx: Context) -> Response:
    """GET /workflow/runs/{id}?view=overview|verbose."""
    view = ctx.query.get("view", "overview")
    if view not in ("overview", "verbose"):
        raise BadRequestError(f"view must be overview or verbose, got {view!r}")
    run_id = ctx.request.path_params["workflow_id"]
    now = ctx.world.advance()
    try:
        run = ctx.world.get_run(run_id)
    except KeyError:
        return error_response(404, f"Workflow {run_id} was not found.", ctx.request_id)
    body = run.to_wire(now, verbose=view == "verbose")
    if ctx.decision.odd_records:
        body = make_odd(body, ctx.decision.odd_kind)
    return json_response(200, body)


_START_FIELDS = frozenset({"config_id", "range_from", "range_to", "run_mode"})


async def start_workflow_run(ctx: Context) -> Response:
    """POST /workflow/runs: start a courier group, orchestration group or campaign."""
    try:
        body = json.loads(await ctx.request.body() or b"null")
    except ValueError:
        raise BadRequestError("the request body must be JSON") from None
    if not isinstance(body, dict):
        raise BadRequestError("the request body must be a JSON object with config_id")
    unknown = sorted(set(body) - _START_FIELDS)
    if unknown:
        raise BadRequestError(f"unknown field(s) in request body: {', '.join(unknown)}")
    config_id = body.get("config_id")
    if not isinstance(config_id, str) or not config_id:
        raise BadRequestError("config_id is required (a string such as cg-123ABc4DE)")
    for name in ("range_from", "range_to", "run_mode"):
        if name in body and not isinstance(body[name], str):
            raise BadRequestError(f"{name} must be a string")
    for name in ("range_from", "range_to"):
        if name in body:
            try:
                parse_bound(body[name], upper=False)
            except TimeParseError as err:
                raise BadRequestError(f"{name}: {err}") from None
    if "range_to" in body and "range_from" not in body:
        raise BadRequestError("range_from is required when range_to is given")
    if "run_mode" in body and body["run_mode"] not in ("source", "refresh", "full"):
        raise BadRequestError("run_mode must be one of source, refresh, full")
    try:
        run = ctx.world.start_run(config_id, principal=ctx.principal.as_tuple())
    except UnknownConfigError:
        raise BadRequestError(f"config_id {config_id!r} does not name a workflow") from None
    return json_response(201, run.to_wire(ctx.world.advance()))


async def stop_workflow_run(ctx: Context) -> Response:
    """POST /workflow/runs/{id}/stop: running -> stopping (-> stopped later)."""
    run_id = ctx.request.path_params["workflow_id"]
    try:
        run = ctx.world.stop_run(run_id, principal=ctx.principal.as_tuple())
    except KeyError:
        return error_response(404, f"Workflow {run_id} was not found.", ctx.request_id)
    except StopRefusedError as err:
        return error_response(STOP_REFUSED_STATUS, str(err), ctx.request_id)
    return json_response(200, run.to_wire(ctx.world.advance()))


async def list_ingest_jobs(ctx: Context) -> Response:
    """GET /ingest/jobs: created_from/created_to required, window at most 7 days."""
    start = _time_param(ctx, "created_from", upper=False, required=True)
    end = _time_param(ctx, "created_to", upper=True, required=True)
    if start is None or end is None:  # unreachable: required=True raises instead
        raise BadRequestError("created_from and created_to are required")
    if end <= start:
        raise BadRequestError("created_to must be after created_from")
    if end - start > MAX_INGEST_WINDOW.total_seconds():
        raise BadRequestError("the window from created_from to created_to must be at most 7 days")
    with_total = _bool_param(ctx, "with_total")
    jobs = ctx.world.list_ingest_jobs(start, end)
    body: dict[str, Any] = {"data": [job.to_wire() for job in jobs]}
    if jobs:
        # Amperity returns a next_token here that cannot be used (NOTES.md); so do we.
        body["next_token"] = pages.encode((0,), pages.fingerprint("ingest-unusable", ()))
    if with_total:
        body["total"] = len(jobs)
    return json_response(200, body)


async def get_ingest_job(ctx: Context) -> Response:
    """GET /ingest/jobs/{id}."""
    job_id = ctx.request.path_params["job_id"]
    try:
        job = ctx.world.get_ingest_job(job_id)
    except KeyError:
        return error_response(404, f"Ingest job {job_id} was not found.", ctx.request_id)
    return json_response(200, job.to_wire())


async def list_audit_events(ctx: Context) -> Response:
    """GET /audit-events: newest first, happened_from/happened_to."""
    limit, after, print_, with_total = _page_params(ctx, "audit", ("happened_from", "happened_to"))
    if after is not None and (len(after) != 2 or not isinstance(after[1], str)):
        raise BadRequestError("next_token is not a token this API issued.")
    events, next_key, total = ctx.world.audit_page(
        happened_from=_time_param(ctx, "happened_from", upper=False),
        happened_to=_time_param(ctx, "happened_to", upper=True),
        after=(float(after[0]), after[1]) if after is not None else None,
        limit=limit,
        with_total=with_total,
    )
    return json_response(200, _page_body(ctx, events, next_key, print_, total))


async def list_segments(ctx: Context) -> Response:
    """GET /segments."""
    return _static_page(ctx, "segments", ctx.world.segments, ())


def _campaigns_filtered(ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    template = ctx.query.get("destination_data_template_id")
    if not template:
        return items
    return [c for c in items if ctx.world.campaign_template_or_none(c["id"]) == template]


async def list_campaigns(ctx: Context) -> Response:
    """GET /campaigns (filter: destination_data_template_id)."""
    items = _campaigns_filtered(ctx, ctx.world.campaigns)
    return _static_page(ctx, "campaigns", items, ("destination_data_template_id",))


async def list_campaign_drafts(ctx: Context) -> Response:
    """GET /campaign-drafts (``unstable`` only)."""
    items = _campaigns_filtered(ctx, ctx.world.campaign_drafts)
    return _static_page(ctx, "drafts", items, ("destination_data_template_id",))


async def list_indexes(ctx: Context) -> Response:
    """GET /indexes."""
    return _static_page(ctx, "indexes", ctx.world.indexes, ())


def _index_or_404(ctx: Context) -> dict[str, Any] | Response:
    index_id = ctx.request.path_params["index_id"]
    for index in ctx.world.indexes:
        if index["id"] == index_id:
            return index
    return error_response(404, "The requested entity does not exist.", ctx.request_id)


async def get_index(ctx: Context) -> Response:
    """GET /indexes/{id}."""
    found = _index_or_404(ctx)
    return found if isinstance(found, Response) else json_response(200, found)


async def list_profiles(ctx: Context) -> Response:
    """GET /indexes/{id}/profiles with ``filter[<attr>]=<value>`` (or ``filter=<value>``)."""
    found = _index_or_404(ctx)
    if isinstance(found, Response):
        return found
    profiles = ctx.world.profiles(found["id"])
    known = set(profiles[0]["attributes"]) if profiles else set()
    filters: list[tuple[str | None, str]] = []
    names: list[str] = []
    for key, value in ctx.query.multi_items():
        if key == "filter":
            filters.append((None, value.lower()))
            names.append(key)
        elif key.startswith("filter[") and key.endswith("]"):
            attribute = key[len("filter["):-1]
            if attribute not in known:
                raise BadRequestError(
                    f"{key}: unknown profile attribute {attribute!r}; "
                    f"known: {', '.join(sorted(known))}")
            filters.append((attribute, value.lower()))
            names.append(key)
    if filters:
        def keep(profile: dict[str, Any]) -> bool:
            attributes = profile["attributes"]
            for attribute, value in filters:
                if attribute is None:
                    if not any(str(v).lower() == value for v in attributes.values()):
                        return False
                elif str(attributes.get(attribute, "")).lower() != value:
                    return False
            return True

        profiles = [p for p in profiles if keep(p)]
    return _static_page(ctx, f"profiles:{found['id']}", profiles, names)


async def get_profile(ctx: Context) -> Response:
    """GET /indexes/{id}/profiles/{id}."""
    found = _index_or_404(ctx)
    if isinstance(found, Response):
        return found
    profile_id = ctx.request.path_params["profile_id"]
    for profile in ctx.world.profiles(found["id"]):
        if profile["id"] == profile_id:
            return json_response(200, profile)
    return error_response(404, "The requested entity does not exist.", ctx.request_id)


# ------------------------------------------------------------------ pipeline
def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _cut(response: Response) -> Response:
    body = bytes(response.body)
    return Response(body[: len(body) // 2], status_code=response.status_code,
                    media_type="application/json")


async def _admit(
    sim: Simulator, request: Request, api_path: str, tenant_header: str
) -> tuple[TenantRuntime | None, str | None, FaultDecision | None, Response | None]:
    """Steps 1-3 of the pipeline: tenant, rate limit, faults. Returns a response to stop."""
    tenant_id = request.headers.get(tenant_header)
    if not tenant_id:
        # 401, not 400: without a tenant no token can be checked, and 401 is the one 4xx every
        # operation documents (GET /indexes/{id} lists no 400).
        return None, None, None, error_response(
            401, f"The {tenant_header} header is required.", None)
    runtime = sim.runtime_or_none(tenant_id)
    if runtime is None:
        return None, None, None, error_response(401, f"Unknown tenant {tenant_id!r}.", None)
    request_id = runtime.next_request_id()
    limiter = sim.limiter
    if limiter is not None and not limiter.admit(tenant_id):
        refused = error_response(
            429, f"Too many requests: tenant {tenant_id} allows {limiter.max_requests} "
                 f"requests per second.", request_id)
        _add_retry_after(refused, runtime.faults.current.retry_after)
        return runtime, request_id, None, refused
    decision = runtime.faults.decide(api_path)
    if decision.delay:
        await asyncio.sleep(decision.delay)
    if decision.drop:
        return runtime, request_id, decision, DroppedConnection()
    if decision.status is not None:
        message = ("Too many requests." if decision.status == 429
                   else "An unexpected error occurred.")
        response = error_response(decision.status, message, request_id)
        if decision.status == 429:
            _add_retry_after(response, decision.retry_after)
        return runtime, request_id, decision, response
    return runtime, request_id, decision, None


def _add_retry_after(response: Response, seconds: int | None) -> None:
    """The retry-after fault: real Amperity publishes no ``Retry-After`` (NOTES.md)."""
    if seconds is not None:
        response.headers["Retry-After"] = str(seconds)


def _api_endpoint(
    sim: Simulator, template: str, versions: tuple[str, ...], handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        arrived = sim.rate_limit_clock()  # before any fault's delay: when the request came
        path = request.url.path
        runtime, request_id, decision, response = await _admit(
            sim, request, path[len(API_PREFIX):], "amperity-tenant")
        if response is None:
            assert runtime is not None
            assert request_id is not None
            assert decision is not None
            response = await _authorized(sim, request, runtime, request_id, decision, versions,
                                         handler)
            if decision.lose_answer:
                # The endpoint has acted (a stop stopped, a start started); only the answer
                # is lost, which is the case a client must not blindly repeat.
                response = DroppedConnection()
        _record(sim, runtime, request, template, response, arrived=arrived)
        return response

    return endpoint


async def _authorized(
    sim: Simulator,
    request: Request,
    runtime: TenantRuntime,
    request_id: str,
    decision: FaultDecision,
    versions: tuple[str, ...],
    handler: Handler,
) -> Response:
    """Steps 4-6: token, version, the endpoint, truncation."""
    token = _bearer(request)
    if token is None:
        return error_response(401, "A bearer token is required in the Authorization header.",
                              request_id)
    if decision.expired_tokens:
        return error_response(401, "The access token has expired.", request_id)
    try:
        principal = sim.authority.check(token, tenant_id=runtime.tenant_id,
                                        static_tokens=runtime.static_tokens,
                                        read_only_tokens=runtime.read_only_tokens,
                                        now=runtime.world.now())
    except TokenRejectedError as err:
        return error_response(401, str(err), request_id)
    if principal.read_only and request.method not in ("GET", "HEAD"):
        return error_response(
            403, "The API key does not have permission for this operation.", request_id)
    version = request.headers.get("api-version")
    if not version:
        return error_response(401, "The api-version header is required.", request_id)
    if version not in versions:
        # 401 also for a known version on an endpoint it does not serve (campaign drafts under
        # 2024-04-01): NOTES.md says unsupported versions are 401, and the spec lists 401.
        return error_response(
            401, f"Unsupported api-version {version!r} for this endpoint; "
                 f"supported: {', '.join(versions)}.", request_id)
    deprecated = version in runtime.sunsets
    sunset = runtime.sunsets.get(version)
    if sunset is not None and runtime.world.now() >= sunset:
        # NOTES.md: retired (deprecated, past sunset) versions are answered 400.
        return error_response(
            400, f"api-version {version} was retired on {format_datetime(_utc(sunset), True)}.",
            request_id)
    ctx = Context(request, runtime, runtime.world, request_id, decision, principal, version)
    try:
        response = await handler(ctx)
    except BadRequestError as err:
        response = error_response(400, str(err), request_id)
    if deprecated:
        response.headers["Deprecation"] = "true"
        if sunset is not None:
            response.headers["Sunset"] = format_datetime(_utc(sunset), usegmt=True)
    if decision.truncate and response.status_code == 200:
        response = _cut(response)
    return response


def _record(
    sim: Simulator,
    runtime: TenantRuntime | None,
    request: Request,
    template: str,
    response: Response,
    *,
    arrived: float | None = None,
) -> None:
    status = 0 if isinstance(response, DroppedConnection) else response.status_code
    log = runtime.log if runtime is not None else sim.unrouted_log
    log.record(request.method, request.url.path, template, status, at=arrived)


def _oauth_endpoint(sim: Simulator) -> Callable[[Request], Awaitable[Response]]:
    template = "/api/v0/oauth2/token"

    async def endpoint(request: Request) -> Response:
        header = ("x-amperity-tenant" if "x-amperity-tenant" in request.headers
                  else "amperity-tenant")
        runtime, request_id, decision, response = await _admit(
            sim, request, "/v0/oauth2/token", header)
        if response is None:
            assert runtime is not None
            assert request_id is not None
            response = await _issue_token(sim, request, runtime, request_id)
            if decision is not None and decision.lose_answer:
                response = DroppedConnection()  # a token was issued; the caller never sees it
            elif decision is not None and decision.truncate and response.status_code == 200:
                response = _cut(response)
        _record(sim, runtime, request, template, response)
        return response

    return endpoint


def _oauth_error(status: int, error: str, message: str, request_id: str) -> Response:
    return json_response(status, {"status": status, "message": message,
                                  "request_id": request_id, "error": error,
                                  "error_description": message})


async def _issue_token(
    sim: Simulator, request: Request, runtime: TenantRuntime, request_id: str
) -> Response:
    """OAuth 2.0 client credentials (form-encoded, or HTTP Basic for the client)."""
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type",
                            "grant_type must be client_credentials", request_id)
    client_id, client_secret = form.get("client_id"), form.get("client_secret")
    basic = request.headers.get("authorization", "")
    if client_id is None and basic.lower().startswith("basic "):
        import base64
        import binascii

        try:
            decoded = base64.b64decode(basic[6:]).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        client_id, _, client_secret = decoded.partition(":")
    spec = runtime.spec
    valid = (
        spec.client_id is not None
        and spec.client_secret is not None
        and client_id is not None
        and client_secret is not None
        and hmac.compare_digest(client_id, spec.client_id)
        and hmac.compare_digest(client_secret, spec.client_secret)
    )
    if not valid:
        return _oauth_error(401, "invalid_client", "The client credentials are not valid.",
                            request_id)
    assert client_id is not None
    now = runtime.world.now()
    token = sim.authority.mint(runtime.tenant_id, expires_at=now + spec.oauth_expires_in,
                               issued_at=now, subject=client_id)
    return json_response(200, {"access_token": token, "expires_in": spec.oauth_expires_in,
                               "token_type": "Bearer"},
                         headers={"cache-control": "no-store"})


_API: tuple[tuple[str, str, tuple[str, ...], Handler], ...] = (
    ("GET", "/audit-events", CONTROL_PLANE_VERSIONS, list_audit_events),
    ("GET", "/campaigns", CONTROL_PLANE_VERSIONS, list_campaigns),
    ("GET", "/campaign-drafts", UNSTABLE_ONLY, list_campaign_drafts),
    ("GET", "/segments", CONTROL_PLANE_VERSIONS, list_segments),
    ("GET", "/ingest/jobs", CONTROL_PLANE_VERSIONS, list_ingest_jobs),
    ("GET", "/ingest/jobs/{job_id}", CONTROL_PLANE_VERSIONS, get_ingest_job),
    ("GET", "/workflow/runs", CONTROL_PLANE_VERSIONS, list_workflow_runs),
    ("POST", "/workflow/runs", CONTROL_PLANE_VERSIONS, start_workflow_run),
    ("GET", "/workflow/runs/{workflow_id}", CONTROL_PLANE_VERSIONS, get_workflow_run),
    ("POST", "/workflow/runs/{workflow_id}/stop", CONTROL_PLANE_VERSIONS, stop_workflow_run),
    ("GET", "/indexes", PROFILE_VERSIONS, list_indexes),
    ("GET", "/indexes/{index_id}", PROFILE_VERSIONS, get_index),
    ("GET", "/indexes/{index_id}/profiles", PROFILE_VERSIONS, list_profiles),
    ("GET", "/indexes/{index_id}/profiles/{profile_id}", PROFILE_VERSIONS, get_profile),
)


def _dispatch(
    methods: dict[str, Callable[[Request], Awaitable[Response]]],
) -> Callable[[Request], Awaitable[Response]]:
    if len(methods) == 1:
        return next(iter(methods.values()))

    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await methods[method](request)

    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = {404: "Not found.", 405: "Method not allowed."}.get(status, "Error.")
    response = error_response(status, message, None)
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)  # 405 carries Allow
    return response


def build_app(sim: Simulator, control_routes: list[BaseRoute]) -> Starlette:
    """The simulator's Starlette app: the API under /api plus the /_sim/ control routes."""
    # One Route per path (not per method), so a 405 lists every method the path supports.
    by_path: dict[str, dict[str, Callable[[Request], Awaitable[Response]]]] = {}
    for method, path, versions, handler in _API:
        by_path.setdefault(path, {})[method] = _api_endpoint(sim, path, versions, handler)
    routes: list[BaseRoute] = [
        Route(f"{API_PREFIX}{path}", _dispatch(methods), methods=list(methods))
        for path, methods in by_path.items()
    ]
    routes.append(Route(f"{API_PREFIX}/v0/oauth2/token", _oauth_endpoint(sim), methods=["POST"]))
    routes.extend(control_routes)
    return _SimStarlette(routes=routes, exception_handlers={HTTPException: _http_error})
