"""`OtelTelemetry`: `Telemetry` with the OpenTelemetry SDK behind it, and `build`, which sets the SDK up.

Imported only by `Telemetry.from_settings` when `observability.otel.enabled`: this module pulls in the
SDK, the OTLP/HTTP exporters (protobuf) and prometheus_client, which a gateway with telemetry off never
loads (observability/otel.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider, TraceBasedExemplarFilter
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Status, StatusCode, get_current_span

from ongoingai import __version__
from ongoingai.config import Settings
from ongoingai.observability.export import (
    SDK_LOGGERS,
    BoundedSpanProcessor,
    CountingMetricExporter,
    FailureLog,
)
from ongoingai.observability.histograms import attach, sampled_context
from ongoingai.observability.labels import UNKNOWN, CallerIdentity, route_pattern
from ongoingai.observability.metrics import CapturedExchange, GatewayMetrics, register_runtime_metrics
from ongoingai.observability.otel import NO_SPAN, SHUTDOWN_TIMEOUT_S, Sink, Telemetry, otlp_base_url
from ongoingai.observability.otel_request import OtelRequestObserver
from ongoingai.observability.prometheus import PrometheusEndpoint, PrometheusReader
from ongoingai.observability.roots import HashedResource, RootSampling, StagedIdGenerator
from ongoingai.observability.scrub import Scrubber
from ongoingai.observability.spans import (
    CLIENT,
    REQUEST_SPANS,
    UNSAMPLED,
    RouteSpan,
    client_attributes,
)
from ongoingai.observability.writer import WriterTelemetry
from ongoingai.providers.pricing import PriceTable
from ongoingai.traces import TraceRecord

logger = logging.getLogger(__name__)

SPAN_QUEUE_CAPACITY = 2048
SPAN_SCHEDULE_DELAY_MS = 1000
_FAMILY_CACHE_MAX = 1024
_PROPAGATION_HEADERS = frozenset({"traceparent", "tracestate"})
_Tap = TypeVar("_Tap")


class OtelTelemetry(Telemetry):
    """Telemetry on: the providers built by `build`, the hooks that record through them."""

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        metrics: GatewayMetrics | None = None,
        prometheus: PrometheusEndpoint | None = None,
        prices: PriceTable | None = None,
        scrubber: Scrubber | None = None,
        roots: RootSampling | None = None,
    ) -> None:
        super().__init__(scrubber=scrubber)
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.tracer = (
            tracer_provider.get_tracer("ongoingai.gateway", __version__)
            if tracer_provider is not None
            else None
        )
        self.metrics = metrics
        self.prometheus = prometheus
        self.active = self.tracer is not None or metrics is not None
        if self.tracer is not None or prometheus is not None:
            self.requests = OtelRequestObserver(self.tracer, prometheus, self.scrubber, roots)
        self.writer = WriterTelemetry(self.tracer, metrics, self.scrubber)
        self._prices = prices
        self._families: dict[str, str] = {}

    def family(self, model: str) -> str:
        """The bounded `model` label: price-table family, `unknown` when none was seen, else `other`."""
        cached = self._families.get(model)
        if cached is not None:
            return cached
        if not model.strip() or model == UNKNOWN:
            found = UNKNOWN
        else:
            prices = self._prices or PriceTable.load()
            found = prices.resolve(model) or "other"
        if len(self._families) < _FAMILY_CACHE_MAX:
            self._families[model] = found
        return found

    def routing(self, identity: CallerIdentity | None) -> contextlib.AbstractContextManager[None]:
        """Around the router once auth admitted the request: the `gateway.route` span when traced, and
        the caller's identity on the request's spans (observability.md §2 "Span enrichment")."""
        spans = REQUEST_SPANS.get()
        if spans is None or self.tracer is None:
            return NO_SPAN
        if identity is not None:
            label = self.scrubber.label  # memoised there
            spans.key_id = label(identity.key_id)
            spans.role = label(identity.role)
            spans.org_id = label(identity.org_id)
            spans.workspace_id = label(identity.workspace_id)
        return RouteSpan(self.tracer, spans)

    def trace_policy(self, check: Callable[[_Tap, bytes], bytes]) -> Callable[[_Tap, bytes], bytes]:
        """`check` (the PII guardrail) inside a `gateway.policy` span; `check` itself when tracing is off."""
        tracer = self.tracer
        if tracer is None:
            return check

        def traced(tap: _Tap, body: bytes) -> bytes:
            spans = REQUEST_SPANS.get()
            if spans is None:
                return check(tap, body)
            span = tracer.start_span("gateway.policy", attributes=spans.scope_attributes())
            # Set once at the end: each `set_attribute` call takes the span's and its map's locks.
            attributes: dict[str, str] = {}
            try:
                forwarded = check(tap, body)
            except Exception as exc:  # the denial itself propagates unchanged
                reason = str(getattr(exc, "failure_class", "") or type(exc).__name__)
                attributes["gateway.policy.result"] = "deny"
                attributes["gateway.policy.reason"] = reason
                span.set_status(Status(StatusCode.ERROR, reason))
                raise
            else:
                attributes["gateway.policy.result"] = "allow" if forwarded is body else "redact"
                return forwarded
            finally:
                mode = getattr(getattr(tap, "policy", None), "mode", None)
                if mode is not None:
                    attributes["gateway.policy.mode"] = str(getattr(mode, "value", mode))
                span.set_attributes(attributes)
                span.end()

        return traced

    def start_upstream(self, method: str, url: str, headers: list[tuple[str, str]]) -> None:
        """Open the client span of the upstream call and put its `traceparent` on the forwarded headers."""
        spans = REQUEST_SPANS.get()
        if spans is not None and self.tracer is not None:
            span = self.tracer.start_span(
                f"proxy {method} {spans.pattern}", kind=CLIENT, attributes=client_attributes(method, url)
            )
            spans.client = span
            context = span.get_span_context()
        else:
            unsampled = UNSAMPLED.get()  # not sampled: propagate the request's (unsampled) ids
            if unsampled is None:
                return
            context = unsampled
        if not context.is_valid:
            return
        # The client's own traceparent/tracestate are replaced by ours (we are its child). Most requests
        # carry neither: look before rebuilding the list.
        if any(name[:1] in "tT" and name.lower() in _PROPAGATION_HEADERS for name, _ in headers):
            headers[:] = [h for h in headers if h[0].lower() not in _PROPAGATION_HEADERS]
        # W3C Trace Context, written directly: what the propagator writes, without its context lookups.
        flags = "01" if context.trace_flags.sampled else "00"
        headers.append(("traceparent", f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags}"))
        if context.trace_state:
            headers.append(("tracestate", context.trace_state.to_header()))

    def enqueue(self, sink: Sink, exchange: CapturedExchange, record: TraceRecord) -> bool:
        """Capture time: end the client span, record the exchange's metrics, enqueue inside its span."""
        spans = REQUEST_SPANS.get()
        family = self.family(record.model)
        pattern = route_pattern(record.request_path)
        if spans is not None:
            spans.end_client(exchange.response_status, exchange.failure_class)
            label = self.scrubber.label  # memoised there
            spans.org_id = label(record.org_id)
            spans.workspace_id = label(record.workspace_id)
            identity = exchange.identity
            if identity is not None:
                spans.key_id = label(identity.key_id)
                spans.role = label(identity.role)
            record.metadata["otel_trace_id"] = format(spans.server.get_span_context().trace_id, "032x")
        metrics = self.metrics
        labels = metrics.labels(record, family, pattern) if metrics is not None else None
        if metrics is not None and labels is not None:
            # Only a sampled request has REQUEST_SPANS: the others skip the context lookup.
            exemplar = sampled_context() if spans is not None else None
            metrics.record_exchange(exchange, record, labels, exemplar)
        if spans is not None and self.tracer is not None:
            span = self.tracer.start_span("gateway.trace.enqueue", attributes=spans.scope_attributes(family))
            accepted = sink.enqueue(record)
            span.set_attribute("gateway.trace.enqueue.result", "accepted" if accepted else "dropped")
            if not accepted:
                span.set_status(Status(StatusCode.ERROR, "trace dropped"))
            span.end()
        else:
            accepted = sink.enqueue(record)
        if metrics is not None and labels is not None:
            if accepted:
                metrics.enqueued_total += 1
            else:
                metrics.queue_dropped.add(1, labels.with_status)
        return accepted

    def force_flush(self) -> None:
        if self.tracer_provider is not None:
            self.tracer_provider.force_flush()
        if self.meter_provider is not None:
            self.meter_provider.force_flush()

    async def shutdown(self, timeout: float = SHUTDOWN_TIMEOUT_S) -> None:
        """Flush and stop the exporters in a thread of their own, waiting at most `timeout` seconds."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not done.done():
                done.set_result(None)

        def run() -> None:
            try:
                self._shutdown_sync(timeout)
            except Exception:  # a broken exporter must not stop the gateway's own shutdown
                logger.exception("opentelemetry shutdown failed")
            finally:
                # RuntimeError: the loop is already closed, nobody is waiting any more.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(settle)

        threading.Thread(target=run, name="ongoingai-otel-shutdown", daemon=True).start()
        try:
            await asyncio.wait_for(asyncio.shield(done), timeout)
        except TimeoutError:
            logger.error(
                "failed to flush telemetry before shutdown", extra={"error": "timeout", "timeout": timeout}
            )

    def _shutdown_sync(self, timeout: float) -> None:
        timeout_ms = int(timeout * 1000)
        if self.tracer_provider is not None:
            self.tracer_provider.force_flush(timeout_ms)
            self.tracer_provider.shutdown()
        if self.meter_provider is not None:
            self.meter_provider.shutdown(timeout_millis=timeout_ms)


def build(
    settings: Settings,
    scrubber: Scrubber,
    span_exporter: SpanExporter | None,
    metric_reader: MetricReader | None,
    prices: PriceTable | None,
) -> OtelTelemetry:
    """The providers, exporters and readers `observability.otel` asks for.

    Raises:
        ValueError: the OTLP endpoint has an unsupported scheme (any SDK error propagates too).
    """
    otel = settings.observability.otel
    base = otlp_base_url(otel.endpoint, otel.insecure) if otel.endpoint.strip() else ""
    resource = HashedResource(
        Resource.create({"service.name": otel.service_name.strip(), "service.version": __version__})
    )
    timeout_s = otel.export_timeout_ms / 1000
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)

    holder: list[GatewayMetrics] = []  # the drop counters exist only once the meter does
    readers: list[MetricReader] = []
    if metric_reader is not None:
        readers.append(metric_reader)
    elif otel.metrics_enabled and base:
        exporter = OTLPMetricExporter(endpoint=base + "/v1/metrics", timeout=timeout_s)
        metric_failures = FailureLog("metrics", lambda n, s, r: _count_drop(holder, n, s, r))
        readers.append(
            PeriodicExportingMetricReader(
                CountingMetricExporter(exporter, metric_failures),
                export_interval_millis=otel.metric_export_interval_ms,
                export_timeout_millis=otel.export_timeout_ms,
            )
        )
    prometheus = None
    if otel.prometheus_enabled:
        reader = PrometheusReader()
        readers.append(reader)
        prometheus = PrometheusEndpoint(reader, otel.prometheus_path.strip())
    meter_provider = metrics = None
    if readers:
        meter_provider = MeterProvider(
            metric_readers=readers,
            resource=resource,
            exemplar_filter=TraceBasedExemplarFilter(),
            shutdown_on_exit=False,
        )
        metrics = GatewayMetrics(meter_provider.get_meter("ongoingai.gateway", __version__), scrubber)
        scope = InstrumentationScope("ongoingai.gateway", __version__)
        attach(readers, metrics.histograms, scope, resource)  # the histograms are kept outside the SDK
        holder.append(metrics)
        register_runtime_metrics(meter_provider.get_meter("ongoingai.runtime", __version__))

    tracer_provider = roots = None
    if otel.traces_enabled and (span_exporter is not None or base):
        exporter_ = span_exporter or OTLPSpanExporter(endpoint=base + "/v1/traces", timeout=timeout_s)
        ids = StagedIdGenerator()
        roots = RootSampling(otel.sampling_ratio, ids)
        tracer_provider = TracerProvider(
            sampler=ParentBased(TraceIdRatioBased(otel.sampling_ratio)),
            resource=resource,
            shutdown_on_exit=False,
            id_generator=ids,
        )
        tracer_provider.add_span_processor(
            BoundedSpanProcessor(
                exporter_,
                scrubber=scrubber,
                count_drop=lambda n, s, r: _count_drop(holder, n, s, r),
                max_queue=SPAN_QUEUE_CAPACITY,
                schedule_delay_ms=SPAN_SCHEDULE_DELAY_MS,
                export_timeout_ms=otel.export_timeout_ms,
            )
        )
    return OtelTelemetry(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        metrics=metrics,
        prometheus=prometheus,
        prices=prices or PriceTable.load(settings.pricing.overrides),
        scrubber=scrubber,
        roots=roots,
    )


def _count_drop(holder: list[GatewayMetrics], count: int, signal: str, reason: str) -> None:
    if holder:
        holder[0].count_dropped(count, signal, reason)


def current_trace_id() -> str:
    """The active span's trace id (32 hex), or "" when none is recording."""
    span = get_current_span()
    return format(span.get_span_context().trace_id, "032x") if span.is_recording() else ""
