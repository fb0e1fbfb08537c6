"""A tiny receiving app standing in for Slack, PagerDuty, Teams and webhooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class Receiver:
    """Records every request; answers 500 while ``down``; 202 like PagerDuty when up."""

    down: bool = False
    attempts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    error_body: str = "internal error"

    def app(self) -> Starlette:
        async def hook(request: Request) -> JSONResponse:
            body = await request.json()
            self.attempts.append((request.url.path, body))
            if self.down:  # echo the path and key back, as careless servers do
                echo = {"error": self.error_body, "path": request.url.path,
                        "key": body.get("routing_key")}
                return JSONResponse(echo, status_code=500)
            self.received.append((request.url.path, body))
            return JSONResponse({"status": "success"}, status_code=202)

        return Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])

    def paths(self) -> list[str]:
        return [path for path, _ in self.received]
