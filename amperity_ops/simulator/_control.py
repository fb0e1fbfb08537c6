"""The /_sim/ control endpoints: faults, request counts, runs, tokens, the clock, a run page.

They are not part of the Amperity API and need no Amperity credentials: they exist so a demo
or a test over a real socket can change the tenant while it runs. The simulator only binds
127.0.0.1 by default, which is what keeps them private.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from amperity_ops.simulator._clock import ManualClock
from amperity_ops.simulator._faults import Faults
from amperity_ops.simulator._http import error_response, json_response
from amperity_ops.simulator._runpage import RUN_PAGE_PATH, run_page_endpoint
from amperity_ops.simulator._tenant import TenantRuntime
from amperity_ops.simulator._timeutil import iso

if TYPE_CHECKING:
    from amperity_ops.simulator._simulator import Simulator

Endpoint = Callable[[Request], Awaitable[Response]]


class _ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise _ControlError(400, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise _ControlError(400, "the body must be a JSON object")
    return body


def _runtime(sim: Simulator, request: Request) -> TenantRuntime:
    tenant_id = request.path_params["tenant"]
    runtime = sim.runtime_or_none(tenant_id)
    if runtime is None:
        raise _ControlError(404, f"no tenant {tenant_id!r}; tenants: {', '.join(sim.tenant_ids)}")
    return runtime


def _guarded(handler: Callable[[Request], Awaitable[Any]]) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(request)
        except _ControlError as err:
            return error_response(err.status, str(err), None)
        except (ValueError, TypeError, KeyError) as err:
            return error_response(400, str(err), None)
        if isinstance(result, Response):
            return result
        return json_response(200, result)

    return endpoint


def _seconds(body: dict[str, Any], name: str) -> timedelta | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds")
    return timedelta(seconds=value)


def control_routes(sim: Simulator) -> list[BaseRoute]:
    """The /_sim/ routes for ``sim``."""

    async def health(request: Request) -> Any:
        return {"ok": True, "tenants": list(sim.tenant_ids), "now": iso(sim.now().timestamp()),
                "rate_limit_rps": sim.rate_limit_rps,
                # Simulated seconds per real second (None for a manual clock), so clients can
                # say how fast the times they show run.
                "speed": getattr(sim.clock, "speed", None)}

    async def faults(request: Request) -> Any:
        runtime = _runtime(sim, request)
        if request.method == "POST":
            runtime.faults.set(Faults.from_json(await _json_body(request)))
        elif request.method == "DELETE":
            runtime.faults.set(Faults())
        return runtime.faults.current.to_json()

    async def requests(request: Request) -> Any:
        runtime = _runtime(sim, request)
        if request.method == "DELETE":
            runtime.log.reset()
        return runtime.log.to_json()

    async def add_run(request: Request) -> Any:
        runtime = _runtime(sim, request)
        body = await _json_body(request)
        allowed = {"name", "type", "state", "started_ago_seconds", "ended_ago_seconds",
                   "finishes_in_seconds", "final_state", "warn_after_ms", "error",
                   "config_id", "run_id", "principal_name"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(allowed))}")
        kwargs = {k: v for k, v in body.items() if not k.endswith("_seconds")}
        for name in ("started_ago", "ended_ago", "finishes_in"):
            value = _seconds(body, f"{name}_seconds")
            if value is not None:
                kwargs[name] = value
        run = runtime.world.add_run(**kwargs)
        return json_response(201, runtime.world.run_json(run.id, verbose=False))

    async def get_run(request: Request) -> Any:
        # Read-only and unauthenticated, for the run page (/_sim/app/{tenant}/): the verbose view.
        runtime = _runtime(sim, request)
        run_id = request.path_params["run_id"]
        try:
            return runtime.world.run_json(run_id, verbose=True)
        except KeyError:
            raise _ControlError(404, f"Workflow {run_id} was not found.") from None

    async def set_state(request: Request) -> Any:
        runtime = _runtime(sim, request)
        body = await _json_body(request)
        if not isinstance(body.get("state"), str):
            raise ValueError("state is required (a string)")
        run = runtime.world.set_run_state(request.path_params["run_id"], body["state"],
                                          error=body.get("error"))
        return runtime.world.run_json(run.id)

    async def mint(request: Request) -> Any:
        runtime = _runtime(sim, request)
        body = await _json_body(request)
        expires_in = body.get("expires_in", 3600)
        if not isinstance(expires_in, int | float):
            raise ValueError("expires_in must be a number of seconds")
        token = sim.mint_token(runtime.tenant_id, expires_in=timedelta(seconds=expires_in))
        return {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}

    async def definitions(request: Request) -> Any:
        runtime = _runtime(sim, request)
        return {"data": [{"config_id": d.config_id, "name": d.name, "type": d.type,
                          "every_seconds": d.every.total_seconds()}
                         for d in runtime.world.definitions]}

    async def advance_clock(request: Request) -> Any:
        body = await _json_body(request)
        seconds = _seconds(body, "seconds")
        if seconds is None:
            raise ValueError("seconds is required")
        if not isinstance(sim.clock, ManualClock):
            raise _ControlError(409, "the clock is not a ManualClock; start with a manual clock")
        sim.clock.advance(seconds)
        return {"now": iso(sim.now().timestamp())}

    async def rate_limit(request: Request) -> Any:
        body = await _json_body(request)
        rps = body.get("rps")
        if rps is not None and not isinstance(rps, int | float):
            raise ValueError("rps must be a number (0 or null turns the limiter off)")
        sim.set_rate_limit(rps)
        return {"rate_limit_rps": sim.rate_limit_rps}

    base = "/_sim/tenants/{tenant}"
    return [
        Route("/_sim/health", _guarded(health), methods=["GET"]),
        Route(f"{base}/faults", _guarded(faults), methods=["GET", "POST", "DELETE"]),
        Route(f"{base}/requests", _guarded(requests), methods=["GET", "DELETE"]),
        Route(f"{base}/runs", _guarded(add_run), methods=["POST"]),
        Route(f"{base}/runs/{{run_id}}", _guarded(get_run), methods=["GET"]),
        Route(RUN_PAGE_PATH, run_page_endpoint(sim), methods=["GET"]),
        Route(f"{base}/runs/{{run_id}}/state", _guarded(set_state), methods=["POST"]),
        Route(f"{base}/tokens", _guarded(mint), methods=["POST"]),
        Route(f"{base}/definitions", _guarded(definitions), methods=["GET"]),
        Route("/_sim/clock/advance", _guarded(advance_clock), methods=["POST"]),
        Route("/_sim/rate-limit", _guarded(rate_limit), methods=["POST"]),
    ]
