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
from dataclasses import dataclass
from typing import Any, Protocol

from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.trace import SpanContext

from ongoingai.observability.histograms import BucketHistogram
from ongoingai.observability.labels import CallerIdentity
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
# Distinct exchange label sets kept; the SDK's own per-stream cardinality limit is 2000.
_LABEL_SET_MAX = 2000


class CapturedExchange(Protocol):
    """What metrics read of `capture.Exchange` (structural, so observability never imports capture)."""

    provider: str
    response_status: int
    started_ns: int
    first_write_ns: int
    ended_ns: int
    streaming: bool
    failure_class: str

    @property
    def identity(self) -> CallerIdentity | None: ...


DiagnosticsSource = Callable[[], dict[str, Any]]


Key = tuple[str, str, str, str, str, int]
Attributes = dict[str, str | int]
SCOPE_LABELS = ("provider", "model", "org_id", "workspace_id", "route")
_OVERFLOW: Attributes = {"otel.metric.overflow": True}


@dataclass(frozen=True, slots=True)
class LabelSet:
    """The labels of one exchange, built once per distinct set and reused: the hot path allocates no
    attribute dict (issue 7 "Performance")."""

    scope: Attributes  # provider, model, org_id, workspace_id, route
    with_status: Attributes  # scope + status_code
    input: Attributes  # scope + direction=input
    output: Attributes  # scope + direction=output


class Sums:
    """Cumulative sums per label set, reported by an observable counter at each collection.

    A synchronous OTel counter hashes and copies its attribute dict once per reader on every `add`
    (~10 µs with OTLP and Prometheus both on); the per-exchange counters add into a plain dict instead.
    Only the event loop writes; a collection (the reader's thread) copies the dict, which CPython does
    without switching threads.
    """

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[int, tuple[Attributes, float]] = {}

    def add(self, amount: float, attributes: Attributes) -> None:
        key = id(attributes)  # label sets are interned (`GatewayMetrics.labels`), so identity is the key
        entry = self._values.get(key)
        self._values[key] = (attributes, amount if entry is None else entry[1] + amount)

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(value, attributes) for attributes, value in dict(self._values).values()]


class GatewayMetrics:
    def __init__(self, meter: Meter, scrubber: Scrubber) -> None:
        self._scrubber = scrubber
        self._label_sets: dict[Key, LabelSet] = {}
        self._by_labels: dict[Key, LabelSet] = {}
        self._overflow = LabelSet(_OVERFLOW, _OVERFLOW, _OVERFLOW, _OVERFLOW)
        counter = meter.create_counter
        self.queue_dropped = counter(
            "ongoingai.trace.queue_dropped_total", description="Traces refused by the queue"
        )
        self.write_failed = counter(
            "ongoingai.trace.write_failed_total", description="Trace records not persisted"
        )
        self.enqueued_total = 0
        meter.create_observable_counter(
            "ongoingai.trace.enqueued_total",
            [lambda options: [Observation(self.enqueued_total)]],
            description="Traces accepted by the queue",
        )
        self.written = counter("ongoingai.trace.written_total", description="Trace rows persisted")
        # The histograms are ours (histograms.py: the SDK's cost ~5 µs per record and reader); `attach`
        # hands them to every reader of the meter's provider at collection.
        self.flush_duration = BucketHistogram(
            ("ongoingai.trace.flush_duration_seconds",),
            "Duration of one trace batch write",
            FLUSH_BUCKETS,
            unit="s",
        )
        self.flush_batch_size = BucketHistogram(
            ("ongoingai.trace.flush_batch_size",),
            "Records per trace batch",
            (1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
        )
        # Recorded once per captured exchange: the counters are `Sums`, the histograms `BucketHistogram`s
        # (the exemplar is the sampled span passed in, as the SDK's trace-based filter would take it).
        self.requests = Sums()
        self.tokens = Sums()
        self.cost = Sums()
        observable = meter.create_observable_counter
        observable(
            "ongoingai.provider.request_total", [self.requests.observe], description="Captured exchanges"
        )
        observable("ongoingai.proxy.request_total", [self.requests.observe], description="Captured exchanges")
        # Provider and proxy request durations are the same measurement: one histogram, both names.
        self.duration = BucketHistogram(
            ("ongoingai.provider.request_duration_seconds", "ongoingai.proxy.request_duration_seconds"),
            "Latency of captured exchanges",
            REQUEST_BUCKETS,
            unit="s",
        )
        self.ttft = BucketHistogram(
            ("ongoingai.proxy.ttft",),
            "Time to the first streamed byte sent to the client",
            TTFT_BUCKETS,
            unit="s",
        )
        self.histograms = (self.flush_duration, self.flush_batch_size, self.duration, self.ttft)
        observable("ongoingai.tokens", [self.tokens.observe], description="Tokens by direction")
        observable("ongoingai.cost.usd", [self.cost.observe], unit="USD", description="Estimated cost")
        self.upstream_errors = counter("ongoingai.upstream.errors", description="Upstream failures by class")
        self.telemetry_dropped = counter(
            "ongoingai.telemetry.dropped", description="Spans or metric points dropped"
        )
        self._meter = meter

    def label(self, value: str) -> str:
        """Trimmed, scrubbed, `unknown` when empty (`Scrubber.label`, memoised there)."""
        return self._scrubber.label(value)

    def labels(self, record: TraceRecord, family: str, route: str) -> LabelSet:
        """The exchange's interned label set; past `_LABEL_SET_MAX` distinct sets, the overflow set."""
        key = (record.provider, family, record.org_id, record.workspace_id, route, record.response_status)
        found = self._label_sets.get(key)
        if found is not None:
            return found
        if len(self._label_sets) >= _LABEL_SET_MAX:
            return self._overflow
        labelled = (
            self.label(record.provider),
            family,
            self.label(record.org_id),
            self.label(record.workspace_id),
            route,
        )
        # Raw values that scrub to the same labels share one set: one series, never two with equal labels.
        built = self._by_labels.get((*labelled, record.response_status))
        if built is None:
            scope: Attributes = dict(zip(SCOPE_LABELS, labelled, strict=True))
            built = LabelSet(
                scope,
                {**scope, "status_code": record.response_status},
                {**scope, "direction": "input"},
                {**scope, "direction": "output"},
            )
            self._by_labels[(*labelled, record.response_status)] = built
        self._label_sets[key] = built
        return built

    def record_exchange(
        self, ex: CapturedExchange, record: TraceRecord, labels: LabelSet, exemplar: SpanContext | None = None
    ) -> None:
        """Everything recorded once per captured exchange (observability.md §3, "at capture time").

        `exemplar`: the sampled request's current span (`histograms.sampled_context()`), None otherwise.
        """
        scope = labels.scope
        seconds = max(ex.ended_ns - ex.started_ns, 0) / 1e9
        self.requests.add(1, labels.with_status)  # provider and proxy request_total read the same sums
        self.duration.record(seconds, scope, exemplar)  # provider and proxy request_duration_seconds
        if ex.streaming and ex.first_write_ns:
            self.ttft.record((ex.first_write_ns - ex.started_ns) / 1e9, scope, exemplar)
        if record.input_tokens:
            self.tokens.add(record.input_tokens, labels.input)
        if record.output_tokens:
            self.tokens.add(record.output_tokens, labels.output)
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
