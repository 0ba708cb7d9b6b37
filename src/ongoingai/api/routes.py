"""`create_api(...)`: the Starlette app for `/` and `/api/*`, built from one route table.

Each route accepts exactly its methods (anything else → `405 {"error":"method not allowed"}` with
`Allow`, HEAD included, as http-api.md §1 says); unknown paths → plain-text `404 page not found`;
CORS on every response. The app has no lifespan work: the gateway opens and closes the store and sink.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ongoingai import __version__
from ongoingai.api.auth_routes import AUTH_ROUTES
from ongoingai.api.context import ApiContext
from ongoingai.api.cors import CorsMiddleware
from ongoingai.api.diagnostics import get_trace_pipeline
from ongoingai.api.health import get_health, get_ready, get_root
from ongoingai.api.limits import get_limits_diagnostics
from ongoingai.api.openapi import build_openapi
from ongoingai.api.params import TRACE_LIST_PARAMS, ParamDoc
from ongoingai.api.read_routes import READ_SIDE_ROUTES
from ongoingai.api.render import error_response, json_response
from ongoingai.api.traces import get_trace_detail, get_traces
from ongoingai.config import Settings
from ongoingai.http.errors import GatewayError
from ongoingai.sink import TraceSink
from ongoingai.store import SqlTraceStore

Handler = Callable[[Request], Awaitable[Response]]


async def get_openapi(request: Request) -> Response:
    return json_response(request.app.state.openapi)


@dataclass(frozen=True, slots=True)
class ApiRoute:
    path: str
    methods: tuple[str, ...]  # empty: any method (only `/`)
    handler: Handler
    summary: str
    responses: dict[int, str]
    params: tuple[ParamDoc, ...] = field(default=())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if self.methods and request.method not in self.methods:
            allow = ", ".join([*self.methods, "OPTIONS"])
            response = error_response(405, "method not allowed", {"Allow": allow})
        else:
            try:
                response = await self.handler(request)
            except GatewayError as exc:
                response = error_response(exc.status, exc.message)
        await response(scope, receive, send)


ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute("/", (), get_root, "Service metadata (any method)", {200: "ServiceInfo"}),
    ApiRoute("/api/health", ("GET",), get_health, "Liveness, version, trace count", {200: "Health"}),
    ApiRoute(
        "/api/ready",
        ("GET",),
        get_ready,
        "Storage reachable and migrations current",
        {200: "Ready", 503: "Ready"},
    ),
    ApiRoute(
        "/api/traces",
        ("GET",),
        get_traces,
        "List trace summaries, newest first, cursor-paginated",
        {200: "TraceList", 400: "Error", 500: "Error", 503: "Error"},
        TRACE_LIST_PARAMS,
    ),
    ApiRoute(
        "/api/traces/{trace_id}",
        ("GET",),
        get_trace_detail,
        "One trace with its lineage view",
        {200: "TraceDetail", 404: "Error", 500: "Error", 503: "Error"},
    ),
    ApiRoute(
        "/api/diagnostics/trace-pipeline",
        ("GET",),
        get_trace_pipeline,
        "Trace writer queue, drops, failures and spill journal",
        {200: "TracePipelineDiagnostics", 503: "Error"},
    ),
    ApiRoute(
        "/api/diagnostics/limits",
        ("GET",),
        get_limits_diagnostics,
        "Limits backend, its health and refusal counts (issue 8)",
        {200: "LimitsDiagnostics"},
    ),
    *(ApiRoute(*spec) for spec in READ_SIDE_ROUTES),  # analytics, replay, fork (issue 5)
    *(ApiRoute(*spec) for spec in AUTH_ROUTES),  # gateway keys, audit (issue 4)
    ApiRoute("/api/openapi.json", ("GET",), get_openapi, "This document", {200: "OpenAPI"}),
)


async def not_found(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("404 page not found\n", status_code=404)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_api(
    settings: Settings,
    store: SqlTraceStore | None,
    sink: TraceSink | None,
    started_at: datetime,
    *,
    clock: Callable[[], datetime] = _utcnow,
    version: str = __version__,
) -> Starlette:
    """The API app; mount it for every non-provider path (`await api(scope, receive, send)`).

    `store` / `sink` may be None: the routes that need them answer 503 as the spec says.
    """
    app = Starlette(
        routes=[Route(r.path, endpoint=r) for r in ROUTES],
        middleware=[Middleware(CorsMiddleware, auth_header=settings.auth.header)],
        exception_handlers={404: not_found},
    )
    app.router.redirect_slashes = False
    app.state.ctx = ApiContext(settings, store, sink, started_at, clock, version)
    app.state.openapi = build_openapi(ROUTES, version)
    return app


def attach_store(app: Starlette, store: SqlTraceStore | None) -> None:
    """Hand the API the store once the lifespan has opened it (until then trace routes answer 503)."""
    app.state.ctx = replace(app.state.ctx, store=store)
