"""`OtelRequestObserver`: the request observer when OTel is on (built by `observability/sdk.py`).

Besides the correlation id and the access log it serves the Prometheus scrape path (exact match, before
routing, no span) and opens the server/auth/route spans when tracing is on (honouring an inbound W3C
`traceparent`).
"""

from __future__ import annotations

import time

from opentelemetry.context import Context, attach, detach
from opentelemetry.trace import SpanContext, Status, StatusCode, Tracer, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ongoingai.http.asgi import Receive, Scope, Send
from ongoingai.observability.labels import route_pattern
from ongoingai.observability.logging import CORRELATION_ID
from ongoingai.observability.prometheus import PrometheusEndpoint
from ongoingai.observability.request import (
    CORRELATION_HEADER,
    Dispatch,
    RequestObserver,
    StatusSend,
    access_log,
)
from ongoingai.observability.roots import RootSampling
from ongoingai.observability.scrub import DEFAULT_SCRUBBER, Scrubber
from ongoingai.observability.spans import (
    REQUEST_SPANS,
    SERVER,
    UNSAMPLED,
    RequestSpans,
    server_attributes,
)

PROPAGATOR = TraceContextTextMapPropagator()


class OtelRequestObserver(RequestObserver):
    def __init__(
        self,
        tracer: Tracer | None,
        prometheus: PrometheusEndpoint | None,
        scrubber: Scrubber = DEFAULT_SCRUBBER,
        roots: RootSampling | None = None,
    ) -> None:
        self._tracer = tracer
        self._roots = roots  # None: every root goes to the SDK's sampler
        self._scrubber = scrubber
        self._prometheus = prometheus
        self._metrics_path = prometheus.path if prometheus is not None else None

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, correlation_id: str, dispatch: Dispatch
    ) -> None:
        token = CORRELATION_ID.set(correlation_id)
        started = time.perf_counter_ns()
        status = StatusSend(send)
        try:
            if scope["path"] == self._metrics_path and self._prometheus is not None:
                await self._prometheus(
                    scope, receive, status, [(CORRELATION_HEADER, correlation_id.encode("latin-1"))]
                )
            elif self._tracer is not None:
                await self._traced(self._tracer, scope, receive, status, correlation_id, dispatch, started)
                return
            else:
                await dispatch(scope, receive, status, correlation_id)
        finally:
            if self._tracer is None or scope["path"] == self._metrics_path:
                access_log(scope, status.status, correlation_id, started)
            CORRELATION_ID.reset(token)

    async def _traced(
        self,
        tracer: Tracer,
        scope: Scope,
        receive: Receive,
        status: StatusSend,
        correlation_id: str,
        dispatch: Dispatch,
        started: int,
    ) -> None:
        pattern = route_pattern(scope["path"])
        parent = _extract(scope["headers"])
        if parent is None and self._roots is not None:
            unsampled = self._roots.unsampled()
            if unsampled is not None:  # no span at all: only its ids, for the upstream's traceparent
                await self._unsampled(unsampled, scope, receive, status, correlation_id, dispatch, started)
                return
        # Attributes only once the sampler said yes: at ratio 0.1 nine requests in ten build none.
        server = tracer.start_span(f"{scope['method']} {pattern}", context=parent, kind=SERVER)
        if not server.is_recording():  # a parent that was not sampled: ids still propagate upstream
            await self._unsampled(
                server.get_span_context(), scope, receive, status, correlation_id, dispatch, started
            )
            return
        server_context = set_span_in_context(server, parent)
        server.set_attributes(server_attributes(scope, pattern))
        auth = tracer.start_span("gateway.auth", context=server_context)
        spans = RequestSpans(server, auth, pattern, correlation_id)
        spans_token = REQUEST_SPANS.set(spans)
        # `gateway.route` opens under this one once auth admitted the request (Telemetry.routing).
        token = attach(set_span_in_context(auth, server_context))
        error: BaseException | None = None
        try:
            await dispatch(scope, receive, status, correlation_id)
        except BaseException as exc:
            error = exc
            raise
        finally:
            code = status.status or 500
            access_log(scope, code, correlation_id, started)  # while the spans still record: carries ids
            spans.finish(code, error)
            _finish_server(spans, code, error)
            detach(token)
            REQUEST_SPANS.reset(spans_token)

    @staticmethod
    async def _unsampled(
        context: SpanContext,
        scope: Scope,
        receive: Receive,
        status: StatusSend,
        correlation_id: str,
        dispatch: Dispatch,
        started: int,
    ) -> None:
        token = UNSAMPLED.set(context)
        try:
            await dispatch(scope, receive, status, correlation_id)
        finally:
            access_log(scope, status.status, correlation_id, started)
            UNSAMPLED.reset(token)


def _finish_server(spans: RequestSpans, code: int, error: BaseException | None) -> None:
    server = spans.server
    # One `set_attributes`: each call takes the span's and the attribute map's locks.
    attributes: dict[str, str | int] = {
        "http.response.status_code": code,
        "gateway.correlation_id": spans.correlation_id,
    }
    status = None
    if code >= 500:
        attributes["error.type"] = str(code)
        status = Status(StatusCode.ERROR, f"http {code}")
    elif error is not None:
        attributes["error.type"] = type(error).__name__
        status = Status(StatusCode.ERROR, type(error).__name__)
    server.set_attributes(attributes)
    if status is not None:
        server.set_status(status)
    server.end()


def _extract(headers: list[tuple[bytes, bytes]]) -> Context | None:
    carrier: dict[str, str] | None = None
    for name, value in headers:
        if name == b"traceparent" or name == b"tracestate":
            if carrier is None:
                carrier = {}
            carrier.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return PROPAGATOR.extract(carrier) if carrier is not None else None
