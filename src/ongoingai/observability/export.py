"""Exporter plumbing that keeps telemetry from ever touching the proxy: scrubbing, bounds, drop counting.

- `ScrubbingSpanExporter` scrubs every string span attribute, event attribute and status description
  before the real exporter sees it (observability.md §6).
- `BoundedSpanProcessor` puts a hard cap on spans waiting for export in front of the SDK's batch
  processor: past it a span is dropped and counted instead of queued (the SDK's own queue would evict
  silently and log a warning per span).
- `FailureLog` turns export failures into one WARN per outage and a count on `ongoingai.telemetry.dropped`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from opentelemetry.context import Context
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from ongoingai.observability.scrub import Scrubber

logger = logging.getLogger(__name__)

DropCounter = Callable[[int, str, str], None]  # (count, signal, reason)

# The SDK and the OTLP exporter log every failed export and every full queue; FailureLog replaces
# that with one line per outage, so their own warnings are silenced while telemetry is on.
SDK_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.metrics._internal.export",
)


class FailureLog:
    """Logs the first failure of an outage and the recovery; counts every dropped item."""

    def __init__(self, signal: str, count_drop: DropCounter) -> None:
        self._signal = signal
        self._count_drop = count_drop
        self._failing = False

    def failed(self, items: int, reason: str) -> None:
        self._count_drop(items, self._signal, reason)
        if not self._failing:
            self._failing = True
            logger.warning(
                "opentelemetry export failed; dropping telemetry until the collector answers",
                extra={"signal": self._signal, "reason": reason, "dropped": items},
            )

    def succeeded(self) -> None:
        if self._failing:
            self._failing = False
            logger.info("opentelemetry export recovered", extra={"signal": self._signal})


class ScrubsValues(Protocol):
    def scrub(self, text: str) -> str: ...

    def value(self, value: Any) -> Any: ...


# Distinct strings remembered by `MemoScrubber`; past it the memo starts over (correlation ids and
# paths are unique, route, provider, model and method repeat on every span).
_MEMO_MAX = 4096


class MemoScrubber:
    """`Scrubber` with a memo of the strings it has seen: span attribute values repeat from span to span
    and the scrub is pure. Used by the export thread only."""

    def __init__(self, scrubber: Scrubber) -> None:
        self._scrubber = scrubber
        self._memo: dict[str, str] = {}

    def scrub(self, text: str) -> str:
        found = self._memo.get(text)
        if found is None:
            found = self._scrubber.scrub(text)
            if len(self._memo) >= _MEMO_MAX:
                self._memo.clear()
            self._memo[text] = found
        return found

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        return self._scrubber.value(value)


class ScrubbingSpanExporter(SpanExporter):
    def __init__(
        self, inner: SpanExporter, scrubber: Scrubber, failures: FailureLog, exported: Callable[[int], None]
    ) -> None:
        self._inner = inner
        self._scrubber = MemoScrubber(scrubber)
        self._failures = failures
        self._exported = exported

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._inner.export([scrub_span(s, self._scrubber) for s in spans])
        except Exception:  # an exporter bug must not kill the export thread; counted like a failure
            logger.exception("span exporter raised")
            result = SpanExportResult.FAILURE
        finally:
            self._exported(len(spans))  # in flight counts as waiting: the bound holds while export hangs
        if result is SpanExportResult.SUCCESS:
            self._failures.succeeded()
        else:
            self._failures.failed(len(spans), "export_failed")
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def _scrub_attributes(attributes: Any, scrubber: ScrubsValues) -> tuple[dict[str, Any] | None, bool]:
    if not attributes:
        return None, False
    changed = False
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        cleaned = scrubber.value(value)
        changed = changed or cleaned != value
        out[key] = cleaned
    return out, changed


def scrub_span(span: ReadableSpan, scrubber: ScrubsValues) -> ReadableSpan:
    """The span itself when nothing needed scrubbing, else a copy with scrubbed strings."""
    attributes, changed = _scrub_attributes(span.attributes, scrubber)
    events: list[Event] = []
    for event in span.events:
        event_attributes, event_changed = _scrub_attributes(event.attributes, scrubber)
        changed = changed or event_changed
        events.append(Event(event.name, event_attributes, event.timestamp) if event_changed else event)
    status = span.status
    if status.description:
        description = scrubber.scrub(status.description)
        if description != status.description:
            changed = True
            status = Status(status.status_code, description)
    if not changed:
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class BoundedSpanProcessor(SpanProcessor):
    """At most `max_queue` sampled spans queued or in export; more are dropped, logged once, counted."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        scrubber: Scrubber,
        count_drop: DropCounter,
        max_queue: int,
        schedule_delay_ms: int,
        export_timeout_ms: int,
    ) -> None:
        self._max_queue = max_queue
        self._pending = 0
        self._lock = threading.Lock()
        self._warned = False
        self._count_drop = count_drop
        wrapped = ScrubbingSpanExporter(exporter, scrubber, FailureLog("traces", count_drop), self.exported)
        self._inner = BatchSpanProcessor(
            wrapped,
            max_queue_size=max_queue,
            schedule_delay_millis=schedule_delay_ms,
            max_export_batch_size=min(512, max_queue),
            export_timeout_millis=export_timeout_ms,
        )

    def exported(self, count: int) -> None:
        """Called by the exporter wrapper when a batch left the queue."""
        with self._lock:
            self._pending = max(0, self._pending - count)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is None or not span.context.trace_flags.sampled:
            return
        with self._lock:
            full = self._pending >= self._max_queue
            if not full:
                self._pending += 1
        if full:
            self._count_drop(1, "traces", "queue_full")
            if not self._warned:
                self._warned = True
                logger.warning(
                    "span export queue is full; dropping spans", extra={"capacity": self._max_queue}
                )
            return
        self._inner.on_end(span)

    def shutdown(self) -> None:
        self._inner.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class CountingMetricExporter(MetricExporter):
    """Wraps the OTLP metric exporter: failures are logged once per outage and counted."""

    def __init__(self, inner: MetricExporter, failures: FailureLog) -> None:
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self._inner = inner
        self._failures = failures

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        try:
            result = self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        except Exception:  # see ScrubbingSpanExporter.export
            logger.exception("metric exporter raised")
            result = MetricExportResult.FAILURE
        if result is MetricExportResult.SUCCESS:
            self._failures.succeeded()
        else:
            self._failures.failed(_points(metrics_data), "export_failed")
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)


def _points(data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    )
