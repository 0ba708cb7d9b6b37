"""The gateway's instruments (meter `ongoingai.gateway`): observability.md §3 plus DEVIATIONS.md's new names.

Labels are bounded (DEVIATIONS.md "Metric labels are bounded"): `provider` is a configured provider,
`model` the price-table family (`unknown` when no model was seen, `other` when it is not in the table),
`route` the fixed route pattern, `status_code` an integer, `org_id`/`workspace_id` the tenant of the key;
every value is trimmed and credential-scrubbed. Never a key, token, path with ids or a user value.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from ongoingai.auth.identity import Identity
from ongoingai.observability.scrub import Scrubber
from ongoingai.traces import TraceRecord

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
FLUSH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Failure classes that say the upstream (not the client, not the gateway's limits) failed.
UPSTREAM_FAILURES = frozenset(
    {
        "connect_timeout",
        "first_byte_timeout",
        "upstream_unreachable",
        "upstream_reset",
        "upstream_idle_timeout",
    }
)
_LABEL_CACHE_MAX = 1024


class CapturedExchange(Protocol):
    """What metrics read of `capture.Exchange` (structural, so observability never imports capture)."""

    provider: str
    response_status: int
    started_ns: int
    first_write_ns: int
    ended_ns: int
    streaming: bool
    failure_class: str
    identity: Identity | None


DiagnosticsSource = Callable[[], dict[str, Any]]


class GatewayMetrics:
    def __init__(self, meter: Meter, scrubber: Scrubber) -> None:
        self._scrubber = scrubber
        self._labels: dict[str, str] = {}
        counter = meter.create_counter
        histogram = meter.create_histogram
        self.queue_dropped = counter(
            "ongoingai.trace.queue_dropped_total", description="Traces refused by the queue"
        )
        self.write_failed = counter(
            "ongoingai.trace.write_failed_total", description="Trace records not persisted"
        )
        self.enqueued = counter("ongoingai.trace.enqueued_total", description="Traces accepted by the queue")
        self.written = counter("ongoingai.trace.written_total", description="Trace rows persisted")
        self.flush_duration = histogram(
            "ongoingai.trace.flush_duration_seconds",
            unit="s",
            description="Duration of one trace batch write",
            explicit_bucket_boundaries_advisory=FLUSH_BUCKETS,
        )
        self.flush_batch_size = histogram(
            "ongoingai.trace.flush_batch_size",
            description="Records per trace batch",
            explicit_bucket_boundaries_advisory=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
        )
        self.provider_requests = counter("ongoingai.provider.request_total", description="Captured exchanges")
        self.provider_duration = histogram(
            "ongoingai.provider.request_duration_seconds",
            unit="s",
            description="Latency of captured exchanges",
            explicit_bucket_boundaries_advisory=REQUEST_BUCKETS,
        )
        self.proxy_requests = counter("ongoingai.proxy.request_total", description="Captured exchanges")
        self.proxy_duration = histogram(
            "ongoingai.proxy.request_duration_seconds",
            unit="s",
            description="Latency of captured exchanges",
            explicit_bucket_boundaries_advisory=REQUEST_BUCKETS,
        )
        self.ttft = histogram(
            "ongoingai.proxy.ttft",
            unit="s",
            description="Time to the first streamed byte sent to the client",
            explicit_bucket_boundaries_advisory=TTFT_BUCKETS,
        )
        self.tokens = counter("ongoingai.tokens", description="Tokens by direction (input/output)")
        self.cost = counter("ongoingai.cost.usd", unit="USD", description="Estimated cost")
        self.upstream_errors = counter("ongoingai.upstream.errors", description="Upstream failures by class")
        self.telemetry_dropped = counter(
            "ongoingai.telemetry.dropped", description="Spans or metric points dropped"
        )
        self._meter = meter

    def label(self, value: str) -> str:
        """Trimmed, scrubbed, `unknown` when empty; memoised (tenant ids and providers repeat)."""
        cached = self._labels.get(value)
        if cached is None:
            cached = self._scrubber.label(value)
            if len(self._labels) < _LABEL_CACHE_MAX:
                self._labels[value] = cached
        return cached

    def scope(self, record: TraceRecord, family: str, route: str) -> dict[str, str]:
        return {
            "provider": self.label(record.provider),
            "model": family,
            "org_id": self.label(record.org_id),
            "workspace_id": self.label(record.workspace_id),
            "route": route,
        }

    def record_exchange(
        self,
        ex: CapturedExchange,
        record: TraceRecord,
        scope: dict[str, str],
        context: Context | None,
    ) -> None:
        """Everything recorded once per captured exchange (observability.md §3, "at capture time")."""
        with_status: dict[str, str | int] = {**scope, "status_code": record.response_status}
        seconds = max(ex.ended_ns - ex.started_ns, 0) / 1e9
        self.provider_requests.add(1, with_status)
        self.proxy_requests.add(1, with_status)
        self.provider_duration.record(seconds, scope, context=context)
        self.proxy_duration.record(seconds, scope, context=context)
        if ex.streaming and ex.first_write_ns:
            self.ttft.record((ex.first_write_ns - ex.started_ns) / 1e9, scope, context=context)
        if record.input_tokens:
            self.tokens.add(record.input_tokens, {**scope, "direction": "input"})
        if record.output_tokens:
            self.tokens.add(record.output_tokens, {**scope, "direction": "output"})
        if record.estimated_cost_usd > 0:
            self.cost.add(record.estimated_cost_usd, scope)
        if ex.failure_class in UPSTREAM_FAILURES:
            self.upstream_errors.add(1, {"provider": scope["provider"], "failure_class": ex.failure_class})

    def count_dropped(self, count: int, signal: str, reason: str) -> None:
        self.telemetry_dropped.add(count, {"signal": signal, "reason": reason})

    def watch_queue(self, diagnostics: DiagnosticsSource) -> None:
        """Queue depth and capacity, read from the sink's diagnostics at each collection."""

        def depth(options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(int(diagnostics().get("queue_depth", 0)))]

        def capacity(options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(int(diagnostics().get("queue_capacity", 0)))]

        self._meter.create_observable_gauge(
            "ongoingai.trace.queue_depth", [depth], description="Traces waiting to be written"
        )
        self._meter.create_observable_gauge(
            "ongoingai.trace.queue_capacity", [capacity], description="Capacity of the trace queue"
        )


def register_runtime_metrics(meter: Meter) -> None:
    """Process metrics (observability.md §1 "Runtime metrics"; the names are not part of the contract)."""

    def cpu(options: CallbackOptions) -> Iterable[Observation]:
        times = os.times()
        return [Observation(times.user, {"state": "user"}), Observation(times.system, {"state": "system"})]

    def max_rss(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)]

    started = time.monotonic()

    def uptime(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(time.monotonic() - started)]

    meter.create_observable_counter("process.cpu.time", [cpu], unit="s", description="Process CPU time")
    meter.create_observable_gauge("process.memory.max_rss", [max_rss], unit="By", description="Peak RSS")
    meter.create_observable_gauge("process.uptime", [uptime], unit="s", description="Seconds since start")
