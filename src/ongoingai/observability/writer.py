"""`WriterTelemetry`: what the batch writer reports — a root `gateway.trace.write` span per batch, flush
duration and size, rows written, records dropped by class (observability.md §2–3).

The writer holds a disabled instance until the gateway hands it the real one, so the writer works the
same with telemetry off and costs one generator per batch. Disabled, it imports no OpenTelemetry module
(start-up time and memory); the API is imported by the first batch that records.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ongoingai.observability.labels import UNKNOWN
from ongoingai.observability.scrub import DEFAULT_SCRUBBER, Scrubber

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from ongoingai.observability.metrics import GatewayMetrics


@dataclass(slots=True)
class _Batch:
    span: Span | None
    error_classes: list[str] = field(default_factory=list)


_BATCH: ContextVar[_Batch | None] = ContextVar("ongoingai_write_batch", default=None)
_WRITE_SCOPE = {
    "gateway.provider": UNKNOWN,
    "gateway.model": UNKNOWN,
    "gateway.org_id": UNKNOWN,
    "gateway.workspace_id": UNKNOWN,
    "gateway.route": UNKNOWN,
}


class WriterTelemetry:
    def __init__(
        self,
        tracer: Tracer | None = None,
        metrics: GatewayMetrics | None = None,
        scrubber: Scrubber = DEFAULT_SCRUBBER,
    ) -> None:
        self._tracer = tracer
        self._metrics = metrics
        self._scrubber = scrubber

    @contextmanager
    def batch(self, size: int) -> Iterator[None]:
        """Around one batch: a new root span (current while the batch is written) and flush metrics."""
        if self._tracer is None and self._metrics is None:
            yield
            return
        from opentelemetry.context import Context, attach, detach
        from opentelemetry.trace import Status, StatusCode, set_span_in_context

        from ongoingai.observability.histograms import sampled_context

        started = time.perf_counter()
        span = None
        token = None
        if self._tracer is not None:
            span = self._tracer.start_span(
                "gateway.trace.write",
                context=Context(),  # a root: the batch belongs to no request
                attributes={**_WRITE_SCOPE, "gateway.trace.write.batch_size": size},
            )
            token = attach(set_span_in_context(span, Context()))
        state = _Batch(span)
        batch_token = _BATCH.set(state)
        try:
            yield
        finally:
            _BATCH.reset(batch_token)
            if span is not None and token is not None:
                if state.error_classes:
                    text = ",".join(sorted(set(state.error_classes)))
                    span.set_attribute("gateway.trace.write.error_class", self._scrubber.scrub(text))
                    span.set_status(Status(StatusCode.ERROR, "write failed"))
                span.end()
                detach(token)
            if self._metrics is not None:
                exemplar = sampled_context()  # what the SDK's trace-based exemplar filter would take
                self._metrics.flush_duration.record(time.perf_counter() - started, exemplar=exemplar)
                self._metrics.flush_batch_size.record(size, exemplar=exemplar)

    def written(self, rows: int, error_classes: Sequence[str] = ()) -> None:
        """The store's answer for the current batch: rows persisted and the classes of what failed."""
        if rows and self._metrics is not None:
            self._metrics.written.add(rows)
        state = _BATCH.get()
        if error_classes and state is not None:
            state.error_classes.extend(error_classes)

    def dropped(self, count: int, operation: str, error_class: str, store: str) -> None:
        """Records lost for good (`write_failed_total`: adds the failed count)."""
        if self._metrics is not None and count:
            self._metrics.write_failed.add(
                count,
                {
                    "operation": self._metrics.label(operation),
                    "error_class": self._metrics.label(error_class),
                    "store": self._metrics.label(store),
                },
            )
        state = _BATCH.get()
        if state is not None:
            state.error_classes.append(error_class)
