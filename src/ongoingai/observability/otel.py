"""`Telemetry`: the OpenTelemetry setup of one gateway, built once from settings and passed to the layers.

observability.md §1: traces (OTLP/HTTP, batched, scrubbed, parent-based ratio sampler), OTLP metrics
(periodic push), a Prometheus scrape endpoint, runtime metrics. No global provider is installed: the
tracer and meter live here and reach the proxy, the writer and the request observer through this object.
Setup failures are logged and leave telemetry off; shutdown flushes within 5 s; export failures are
logged once per outage and counted (`ongoingai.telemetry.dropped`), never felt by a client.

Off (the default), `Telemetry` is a set of no-op hooks and this module imports no OpenTelemetry module:
the SDK, the OTLP exporters and prometheus_client cost ~0.2 s and ~15 MB at start-up (issue 2,
"Performance"). `from_settings` imports `observability/sdk.py` (`OtelTelemetry`) only when enabled.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from ongoingai.config import Settings
from ongoingai.observability.labels import CallerIdentity
from ongoingai.observability.request import RequestObserver
from ongoingai.observability.scrub import Scrubber
from ongoingai.observability.writer import WriterTelemetry
from ongoingai.traces import TraceRecord

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

    from ongoingai.observability.metrics import CapturedExchange, GatewayMetrics
    from ongoingai.observability.prometheus import PrometheusEndpoint
    from ongoingai.providers.pricing import PriceTable

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 5.0
_Tap = TypeVar("_Tap")
# Reusable: entering and leaving it does nothing, so the untraced path allocates nothing per request.
NO_SPAN: contextlib.AbstractContextManager[None] = contextlib.nullcontext()


class Sink(Protocol):
    """What telemetry needs of the trace sink (structural: observability never imports `sink`)."""

    def enqueue(self, record: TraceRecord) -> bool: ...

    def diagnostics(self) -> dict[str, Any]: ...


class Stoppable(Protocol):
    on_stop: list[Callable[[], Awaitable[None]]]


def otlp_base_url(endpoint: str, insecure: bool) -> str:
    """config-and-cli.md §2: `host:port` (scheme from `insecure`) or `http(s)://host[:port]`.

    Raises:
        ValueError: a URL with another scheme (validation lets it through; setup fails here).
    """
    value = endpoint.strip().rstrip("/")
    if "://" in value:
        scheme = urlsplit(value).scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f'unsupported OTLP endpoint scheme "{scheme}"')
        return value
    return ("http://" if insecure else "https://") + value


class Telemetry:
    """Telemetry off: every hook is a no-op. `from_settings` builds `OtelTelemetry` when enabled."""

    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    tracer: Tracer | None = None
    metrics: GatewayMetrics | None = None
    prometheus: PrometheusEndpoint | None = None
    # Checked on the hot path: with both tracer and metrics off, the gateway calls the sink directly.
    active: bool = False

    def __init__(self, *, scrubber: Scrubber | None = None) -> None:
        self.scrubber = scrubber or Scrubber()
        self.requests: RequestObserver = RequestObserver()
        self.writer = WriterTelemetry(scrubber=self.scrubber)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        span_exporter: SpanExporter | None = None,
        metric_reader: MetricReader | None = None,
        prices: PriceTable | None = None,
    ) -> Telemetry:
        """Build what `observability.otel` asks for. Never raises: a failure logs and returns it disabled.

        `span_exporter` / `metric_reader` replace the OTLP exporters (tests pass in-memory ones).
        """
        otel = settings.observability.otel
        scrubber = Scrubber.from_settings(settings)
        if not otel.enabled:
            return Telemetry(scrubber=scrubber)
        try:
            from ongoingai.observability.sdk import build  # the SDK is imported only when enabled

            telemetry = build(settings, scrubber, span_exporter, metric_reader, prices)
        except Exception as exc:  # telemetry fails open: the gateway runs without it
            logger.error(
                "failed to initialize opentelemetry; continuing with instrumentation disabled",
                extra={"error": str(exc)},
            )
            return Telemetry(scrubber=scrubber)
        logger.info(
            "opentelemetry enabled",
            extra={
                "otel_endpoint": otel.endpoint,
                "otel_traces_enabled": telemetry.tracer is not None,
                "otel_metrics_enabled": otel.metrics_enabled,
                "otel_prometheus_enabled": telemetry.prometheus is not None,
                "otel_sampling_ratio": otel.sampling_ratio,
            },
        )
        return telemetry

    def watch(self, sink: Sink, lifecycle: Stoppable) -> None:
        """Queue gauges from the sink, the writer's hooks, and the flush as the last stop step."""
        if self.metrics is not None:
            self.metrics.watch_queue(sink.diagnostics)
        if isinstance(getattr(sink, "telemetry", None), WriterTelemetry):
            setattr(sink, "telemetry", self.writer)  # noqa: B010 - the writer's hook slot, typed there
        if self.tracer_provider is not None or self.meter_provider is not None:
            lifecycle.on_stop.insert(0, self.shutdown)

    def routing(self, identity: CallerIdentity | None) -> contextlib.AbstractContextManager[None]:
        """Around the router once auth admitted the request: the `gateway.route` span when traced, and
        the caller's identity on the request's spans (observability.md §2 "Span enrichment")."""
        return NO_SPAN

    def trace_policy(self, check: Callable[[_Tap, bytes], bytes]) -> Callable[[_Tap, bytes], bytes]:
        """`check` (the PII guardrail) inside a `gateway.policy` span; `check` itself when tracing is off."""
        return check

    def start_upstream(self, method: str, url: str, headers: list[tuple[str, str]]) -> None:
        """Open the client span of the upstream call and put its `traceparent` on the forwarded headers."""
        return None

    def enqueue(self, sink: Sink, exchange: CapturedExchange, record: TraceRecord) -> bool:
        """Capture time: end the client span, record the exchange's metrics, enqueue inside its span."""
        return sink.enqueue(record)

    def force_flush(self) -> None:
        return None

    async def shutdown(self, timeout: float = SHUTDOWN_TIMEOUT_S) -> None:
        """Flush and stop the exporters in a thread of their own, waiting at most `timeout` seconds."""
        return None
