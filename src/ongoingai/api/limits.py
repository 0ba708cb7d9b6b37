"""`GET /api/diagnostics/limits` (issue 8): the limits backend of this process, its health and counters.

Process-local and unscoped like the trace-pipeline diagnostics; ids, codes and counts only (never a URL,
which may carry a password, nor a token).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from ongoingai.api.context import context_of
from ongoingai.api.render import json_response
from ongoingai.limits import Limiter, disabled_health

SCHEMA_VERSION = "limits-diagnostics.v1"


def attach_limits(app: Starlette, limits: Limiter | None) -> None:
    app.state.limits = limits


async def get_limits_diagnostics(request: Request) -> Response:
    ctx = context_of(request)
    limits: Limiter | None = getattr(request.app.state, "limits", None)
    health = limits.health() if limits is not None else disabled_health(ctx.settings)
    return json_response({"schema_version": SCHEMA_VERSION, "generated_at": ctx.clock(), "limits": health})
