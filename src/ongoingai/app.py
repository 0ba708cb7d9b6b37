"""`create_app(settings)`: the only place that wires concrete classes and the layer order.

Layer order (spec README "Request pipeline"): correlation id → auth (if enabled; limits: issue 8) → capture
tap → [PII guardrail: issue 6] → router (provider prefix → proxy; anything else → API app).
Traces are produced for provider routes only (DEVIATIONS.md "Which requests are traced").
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ongoingai.api import TENANT_SCOPE_KEY, attach_store, create_api
from ongoingai.api.cors import cors_headers
from ongoingai.api.keys import attach_auth
from ongoingai.api.limits import attach_limits
from ongoingai.auth.audit import AuditWriter
from ongoingai.auth.guard import AuthGuard
from ongoingai.auth.identity import IDENTITY_SCOPE_KEY
from ongoingai.auth.runtime import AuthRuntime, AuthStartupError
from ongoingai.capture.build import TraceBuilder
from ongoingai.capture.exchange import Exchange
from ongoingai.config import Settings
from ongoingai.http.asgi import ASGIApp, Message, Receive, Scope, Send
from ongoingai.http.correlation import RESPONSE_HEADER, correlation_id_from
from ongoingai.http.errors import send_plain
from ongoingai.limits import LEASE_SCOPE_KEY, Limiter
from ongoingai.observability.otel import Telemetry
from ongoingai.policy import Redactor
from ongoingai.providers.pricing import PriceTable
from ongoingai.providers.routes import PROVIDERS, build_routes, match_route
from ongoingai.proxy.guard import RequestGuard
from ongoingai.proxy.handler import ProxyHandler
from ongoingai.proxy.upstream import UpstreamClient
from ongoingai.sink import BatchWriter, TraceSink
from ongoingai.store import SqlTraceStore, StoreUnavailable, open_trace_store

logger = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await send_plain(send, 404, "404 page not found")


@dataclass
class Lifecycle:
    """Async start/stop hooks run by the ASGI lifespan, stop hooks in reverse order."""

    on_start: list[Hook] = field(default_factory=list)
    on_stop: list[Hook] = field(default_factory=list)


class Gateway:
    """The ASGI application: dispatches provider routes to the proxy and everything else to the API."""

    def __init__(
        self,
        settings: Settings,
        sink: TraceSink,
        *,
        api: ASGIApp = not_found,
        builder: TraceBuilder | None = None,
        lifecycle: Lifecycle | None = None,
        telemetry: Telemetry | None = None,
        auth: AuthGuard | None = None,
        audit: AuditWriter | None = None,
        limits: Limiter | None = None,
    ) -> None:
        self.settings = settings
        self.limits = limits  # None: no limit is evaluated; else built traces feed its day counters
        self.sink = sink
        self._auth = auth  # None: auth disabled, the layer is absent (auth-and-tenancy.md §1)
        self._audit = audit  # where `pii.*` decision records go; None: not recorded (unit-test wiring)
        self.lifecycle = lifecycle or Lifecycle()
        # Built once; with OTel off every hook below is one attribute check (observability/otel.py).
        self.telemetry = telemetry or Telemetry.from_settings(settings)
        self.telemetry.watch(sink, self.lifecycle)
        self._observe = self.telemetry.requests
        self.startup_error = ""
        self._routes = build_routes(settings)
        self._api = api
        redactor = Redactor.from_settings(
            settings.pii,
            settings.auth.header,
            capture_bodies=settings.tracing.capture_bodies,
            body_max_size=settings.tracing.effective_body_max_size,
        )
        self._builder = builder or TraceBuilder(
            settings, PriceTable.load(settings.pricing.overrides), redactor
        )
        self.upstream = UpstreamClient()
        self._proxy = ProxyHandler(
            self.upstream,
            RequestGuard(redactor),
            self._record,
            max_request_body_bytes=settings.server.max_request_body_bytes,
            body_max_size=settings.tracing.effective_body_max_size,
            gateway_header=settings.auth.header,
            telemetry=self.telemetry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            # The observer sets the log correlation id, serves the Prometheus path, opens the request
            # spans and writes the access log line around the dispatch.
            await self._observe(scope, receive, send, correlation_id_from(scope["headers"]), self._dispatch)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send, correlation_id: str) -> None:
        route = match_route(self._routes, scope["path"])
        if self._auth is not None and not await self._auth.admit(
            scope, send, route.name if route is not None else None, correlation_id
        ):
            return  # denied and answered by the auth layer: no trace
        lease = scope.pop(LEASE_SCOPE_KEY, None)  # concurrency slots taken by the limits check
        # observability.md §2: the `gateway.route` span (PII guardrail + router) opens once auth admitted.
        with self.telemetry.routing(scope.get(IDENTITY_SCOPE_KEY)):
            if route is not None:
                try:
                    await self._proxy(scope, receive, send, route, correlation_id)
                finally:
                    # However the exchange ended (completed, client gone, upstream error, cancelled).
                    if lease is not None:
                        lease.release()
            else:
                await self._api(scope, receive, _with_correlation(send, correlation_id))

    def _record(self, exchange: Exchange) -> None:
        """Build the trace and hand it to the sink; capture fails open (logged), never the response."""
        try:
            record, pii = self._builder.build_with_audit(exchange)
        except Exception:  # capture must never break the proxy: log with the correlation id, move on
            logger.exception(
                "failed to build trace",
                extra={"correlation_id": exchange.correlation_id, "path": exchange.path},
            )
            return
        if self.limits is not None:
            self.limits.observe(record)  # day counters: tokens and cost are known from here on
        if pii is not None and self._audit is not None:
            # Queued without waiting, after the client's last byte; the audit writer's own task persists it.
            self._audit.record(
                pii.action,
                pii.outcome,
                reason=pii.reason,
                org_id=pii.org_id,
                workspace_id=pii.workspace_id,
                actor_key_id=pii.actor_key_id,
                trace_id=record.id,
                correlation_id=pii.correlation_id,
                details=pii.details,
            )
        if self.telemetry.active:  # metrics, the enqueue span and `otel_trace_id` in the metadata
            accepted = self.telemetry.enqueue(self.sink, exchange, record)
        else:
            accepted = self.sink.enqueue(record)
        if not accepted:
            logger.warning(
                "trace queue is full; dropping trace",
                extra={
                    "correlation_id": exchange.correlation_id,
                    "path": exchange.path,
                    "status": record.response_status,
                },
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.upstream.start()
                    for hook in self.lifecycle.on_start:
                        await hook()
                except Exception as exc:  # outermost layer: report the failure to the server and stop
                    self.startup_error = (
                        str(exc) if isinstance(exc, StartupError) else f"startup failed: {exc}"
                    )
                    logger.error("gateway startup failed", extra={"error": self.startup_error})
                    await self.upstream.close()
                    await send({"type": "lifespan.startup.failed", "message": self.startup_error})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.upstream.close()
                for hook in reversed(self.lifecycle.on_stop):
                    try:
                        await hook()
                    except Exception:  # keep stopping the rest; each failure is logged
                        logger.exception("gateway shutdown step failed")
                await send({"type": "lifespan.shutdown.complete"})
                return


def _with_correlation(send: Send, correlation_id: str) -> Send:
    value = correlation_id.encode("latin-1")

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), (RESPONSE_HEADER, value)]
        await send(message)

    return wrapped


class StartupError(Exception):
    """A start hook failed; the message is what `serve` prints to stderr before exiting 1."""


def build_gateway(settings: Settings) -> Gateway:
    """The production wiring: SQL store + batch writer behind the sink, the API app for the rest.

    The store is opened inside the server's event loop (its pools belong to that loop): start hooks open
    and migrate it, attach it to the API, then start the writer. Stop order follows traces-and-lineage.md
    §4: writer shutdown (5 s, the rest journalled) → trace store close.
    """
    writer = BatchWriter.from_settings(settings)
    api = create_api(settings, None, writer, started_at=datetime.now(UTC))
    lifecycle = Lifecycle()
    limits = Limiter.from_settings(settings)
    auth = AuthRuntime(
        settings,
        tenant_scope_key=TENANT_SCOPE_KEY,
        providers=PROVIDERS,
        api_headers=cors_headers(settings.auth.header),
        limits=limits,
    )
    attach_auth(api, auth.keys, auth.audit)
    attach_limits(api, limits)
    gateway = Gateway(
        settings, writer, api=api, lifecycle=lifecycle, auth=auth.guard, audit=auth.audit, limits=limits
    )
    if limits is not None and gateway.telemetry.meter_provider is not None:
        from ongoingai.limits.metrics import register_limit_metrics  # the OTel SDK is on: already loaded

        register_limit_metrics(gateway.telemetry.meter_provider, limits)
    opened: list[SqlTraceStore] = []

    async def open_store() -> None:
        try:
            store = await open_trace_store(settings)
        except StoreUnavailable as exc:
            raise StartupError(f"failed to initialize {settings.storage.driver} storage: {exc}") from exc
        opened.append(store)
        attach_store(api, store)
        await writer.start(store)

    async def close_store() -> None:
        await writer.shutdown(5.0)
        for store in opened:
            await store.close()

    async def start_auth() -> None:
        try:
            await auth.start(opened[0].engine)
        except AuthStartupError as exc:
            raise StartupError(str(exc)) from exc

    lifecycle.on_start.append(open_store)
    lifecycle.on_stop.append(close_store)
    lifecycle.on_start.append(start_auth)  # keys, cache and audit writer need the open store
    lifecycle.on_stop.append(auth.stop)  # stops first: flushes last_used_at and audit records
    if limits is not None:

        async def start_limits() -> None:
            await limits.start(opened[0].connect)  # seeds today's usage from the open store

        lifecycle.on_start.append(start_limits)
        lifecycle.on_stop.append(limits.stop)  # stops before auth: flushes usage, closes Redis
    return gateway
