"""Span names, attributes and the per-request span set (observability.md §2).

Tree for a proxied request (`gateway.trace.write` is a root of its own, one per writer batch):

    POST /openai/*                 server
    └── gateway.auth               internal; allow/deny from the final status, enriched with the identity
        └── gateway.route          internal; PII guardrail + router + proxy, opened once auth admitted
            ├── proxy POST /openai/*   client; the upstream call (traceparent injected from it)
            └── gateway.trace.enqueue  internal; the sink call, after the response ended
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.context import Context, attach, detach
from opentelemetry.trace import (
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    set_span_in_context,
)

from ongoingai.http.asgi import Scope
from ongoingai.observability.labels import UNKNOWN, route_provider

# The spans of the request being served; None when tracing is off or the request is not sampled.
REQUEST_SPANS: ContextVar[RequestSpans | None] = ContextVar("ongoingai_request_spans", default=None)
# The ids an unsampled request forwards upstream (its `traceparent`); it has no span in the OTel context.
UNSAMPLED: ContextVar[SpanContext | None] = ContextVar("ongoingai_unsampled", default=None)


def server_attributes(scope: Scope, pattern: str) -> dict[str, Any]:
    """Standard HTTP server attributes; never headers, never the query string (it may hold a key)."""
    attributes: dict[str, Any] = {
        "http.request.method": scope["method"],
        "http.route": pattern,
        "url.path": scope["path"],
        "url.scheme": scope.get("scheme", "http"),
        "network.protocol.version": scope.get("http_version", "1.1"),
    }
    server = scope.get("server")
    if server:
        attributes["server.address"] = server[0]
        if server[1] is not None:
            attributes["server.port"] = server[1]
    client = scope.get("client")
    if client:
        attributes["client.address"] = client[0]
    return attributes


def client_attributes(method: str, url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "url.full": f"{parts.scheme}://{parts.netloc}{parts.path}",  # no query: it may hold a key
        "server.address": parts.hostname or "",
    }
    port = parts.port or (443 if parts.scheme == "https" else 80)
    attributes["server.port"] = port
    return attributes


def error_status(code: int) -> Status | None:
    return Status(StatusCode.ERROR, f"http {code}") if code >= 500 else None


@dataclass(slots=True)
class RequestSpans:
    """The open spans of one sampled request and what later layers learnt about it."""

    server: Span
    auth: Span
    pattern: str
    correlation_id: str
    route: Span | None = None  # None until auth admitted the request (and for ever when it was denied)
    client: Span | None = None
    org_id: str = UNKNOWN
    workspace_id: str = UNKNOWN
    key_id: str = ""
    role: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def scope_attributes(self, model: str = UNKNOWN) -> dict[str, Any]:
        provider, _ = route_provider(self.pattern)
        return {
            "gateway.provider": provider,
            "gateway.model": model,
            "gateway.org_id": self.org_id,
            "gateway.workspace_id": self.workspace_id,
            "gateway.route": self.pattern,
        }

    def end_client(self, status: int, failure_class: str) -> None:
        client = self.client
        if client is None:
            return
        self.client = None
        if status and failure_class:
            client.set_attributes({"http.response.status_code": status, "error.type": failure_class})
        elif status:
            client.set_attribute("http.response.status_code", status)
        elif failure_class:
            client.set_attribute("error.type", failure_class)
        if failure_class:
            client.set_status(Status(StatusCode.ERROR, failure_class))
        elif status >= 500:
            client.set_status(Status(StatusCode.ERROR, f"http {status}"))
        client.end()

    def finish(self, status: int, error: BaseException | None) -> None:
        """End the client (if still open), route (if opened) and auth spans with the final status."""
        self.end_client(0, type(error).__name__ if error is not None else "")
        scope = self.scope_attributes()
        route = self.route
        if route is not None:
            provider, prefix = route_provider(self.pattern)
            # One `set_attributes` per span: each call takes the span's and the attribute map's locks.
            route.set_attributes(
                {**scope, "gateway.route.provider": provider, "gateway.route.prefix": prefix}
            )
            if error is not None:
                route.set_status(Status(StatusCode.ERROR, type(error).__name__))
            elif (failed := error_status(status)) is not None:
                route.set_status(failed)
            route.end()
        self._finish_auth(scope, status)

    def _finish_auth(self, scope: dict[str, Any], status: int) -> None:
        auth = self.auth
        attributes = scope  # built for this call: extended in place, set once
        attributes["gateway.correlation_id"] = self.correlation_id
        if self.key_id:
            attributes["gateway.key_id"] = self.key_id
        if self.role:
            attributes["gateway.role"] = self.role
        # observability.md §2: derived from the final status of everything inside (an upstream 401/403
        # or a PII 403 also reads as deny: the original's quirk, kept).
        if status in (401, 403):
            reason = "unauthorized" if status == 401 else "forbidden"
            attributes["gateway.auth.result"] = "deny"
            attributes["gateway.auth.deny_reason"] = reason
            auth.set_attributes(attributes)
            auth.set_status(Status(StatusCode.ERROR, reason))
        else:
            attributes["gateway.auth.result"] = "allow"
            auth.set_attributes(attributes)
            if (failed := error_status(status)) is not None:
                auth.set_status(failed)
        auth.end()


class RouteSpan:
    """Opens `gateway.route` under the current span (`gateway.auth`) and makes it current until the router
    returns; `RequestSpans.finish` ends it once the final status is known."""

    __slots__ = ("_spans", "_token", "_tracer")

    def __init__(self, tracer: Tracer, spans: RequestSpans) -> None:
        self._tracer = tracer
        self._spans = spans
        self._token: Token[Context] | None = None

    def __enter__(self) -> None:
        route = self._tracer.start_span("gateway.route")
        self._spans.route = route
        self._token = attach(set_span_in_context(route))

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            detach(self._token)


SERVER = SpanKind.SERVER
CLIENT = SpanKind.CLIENT
