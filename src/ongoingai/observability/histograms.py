"""Histograms the gateway keeps itself, handed to every OpenTelemetry metric reader at each collection.

Why not the SDK's synchronous histogram: each `record` builds a `Measurement`, asks the exemplar filter,
then per reader (OTLP and Prometheus: two) copies the attribute dict, hashes it as a frozenset, takes two
locks and offers the exemplar reservoir — ~15 µs per request for the three request histograms (issue 7
"Performance"). Here a `record` is one bisect and a few additions under one lock, the point found by
the identity of an interned label set (`metrics.LabelSet`).

The Python SDK has neither an observable histogram nor a metric-producer hook, so `attach` wraps the
collect callback the `MeterProvider` gave each reader: the SDK collects its own instruments as before and
our points are appended to its scope. Every reader (Prometheus, the OTLP periodic reader, a test's
in-memory reader) sees what a synchronous histogram gave it: name, description, unit, explicit bounds,
count/sum/min/max, the cardinality limit and its overflow set, cumulative or delta as the reader prefers,
and the SDK's exemplars (`TraceBasedExemplarFilter` + `AlignedHistogramBucketExemplarReservoir`): per
bucket the last measurement taken under a sampled span since that reader's previous collection.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from time import time_ns
from typing import Any, cast

from opentelemetry.sdk.metrics import Exemplar
from opentelemetry.sdk.metrics._internal.instrument import _Histogram  # the key of the reader's table
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricReader,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, get_current_span

Attributes = Mapping[str, str | int | bool]
# The SDK's default cardinality limit per metric stream and the attribute set it folds the rest into.
CARDINALITY_LIMIT = 2000
OVERFLOW: Attributes = {"otel.metric.overflow": True}
_NO_ATTRIBUTES: Attributes = {}
_ID_CACHE_MAX = 4 * CARDINALITY_LIMIT  # callers that do not intern their dicts fall back to value keys


def sampled_context() -> SpanContext | None:
    """The current span's context when it is sampled: what `TraceBasedExemplarFilter` keeps."""
    context = get_current_span().get_span_context()
    return context if context.is_valid and context.trace_flags.sampled else None


class _Point:
    """One attribute set's cumulative state; `window_*` are the min/max since each delta reader's last
    collection (delta points carry the window's, not the lifetime's)."""

    __slots__ = (
        "attributes",
        "counts",
        "exemplars",
        "max",
        "min",
        "start_ns",
        "sum",
        "window_max",
        "window_min",
    )

    def __init__(self, attributes: Attributes, buckets: int, windows: int) -> None:
        self.attributes = attributes
        self.counts = [0] * buckets
        self.sum: float = 0
        self.min = math.inf
        self.max = -math.inf
        self.start_ns = time_ns()
        # Per bucket: (value, time, span id, trace id, serial) of the last sampled measurement.
        self.exemplars: list[tuple[float, int, int, int, int] | None] = [None] * buckets
        self.window_min = [math.inf] * windows
        self.window_max = [-math.inf] * windows


@dataclass(slots=True)
class ReaderState:
    """What one reader saw at its previous collection."""

    delta: bool
    window: int  # index into `_Point.window_*` for a delta reader
    last_ns: int = field(default_factory=time_ns)
    last_serial: int = 0
    previous: dict[int, tuple[tuple[int, ...], float]] = field(
        default_factory=dict
    )  # id(point) → (counts, sum)


class BucketHistogram:
    """An explicit-bucket histogram exported under one or more names (the provider and proxy request
    durations are the same measurement: one record, two metrics)."""

    def __init__(
        self, names: Sequence[str], description: str, bounds: Sequence[float], unit: str = ""
    ) -> None:
        self.names = tuple(names)
        self.description = description
        self.unit = unit
        self.bounds = tuple(float(b) for b in bounds)
        self._lock = threading.Lock()
        self._by_id: dict[int, tuple[Attributes, _Point]] = {}
        self._by_value: dict[frozenset[tuple[str, Any]], _Point] = {}
        self._windows = 0
        self._serial = 0

    def add_window(self) -> int:
        """A slot for one more delta reader (called while wiring, before any record)."""
        self._windows += 1
        return self._windows - 1

    def record(
        self, value: float, attributes: Attributes = _NO_ATTRIBUTES, exemplar: SpanContext | None = None
    ) -> None:
        """`exemplar`: the sampled span the measurement belongs to (`sampled_context()`), else None.

        `attributes` is found by identity first: a dict passed here must not change afterwards (the label
        sets of `metrics.LabelSet` never do)."""
        index = bisect_left(self.bounds, value)  # bucket i holds bounds[i-1] < v <= bounds[i], as the SDK's
        found = self._by_id.get(id(attributes))
        with self._lock:
            point = found[1] if found is not None else self._point(attributes)
            point.counts[index] += 1
            point.sum += value
            if value < point.min:
                point.min = value
            if value > point.max:
                point.max = value
            for window in range(self._windows):
                if value < point.window_min[window]:
                    point.window_min[window] = value
                if value > point.window_max[window]:
                    point.window_max[window] = value
            if exemplar is not None:
                self._serial += 1
                point.exemplars[index] = (value, time_ns(), exemplar.span_id, exemplar.trace_id, self._serial)

    def _point(self, attributes: Attributes) -> _Point:
        """The point of a label set not seen by identity yet (under the lock)."""
        key = frozenset(attributes.items())
        point = self._by_value.get(key)
        if point is None:
            if len(self._by_value) >= CARDINALITY_LIMIT:  # as the SDK: `limit` sets, then the overflow set
                return self._overflow()
            point = self._by_value[key] = _Point(dict(attributes), len(self.bounds) + 1, self._windows)
        if len(self._by_id) < _ID_CACHE_MAX:
            self._by_id[id(attributes)] = (attributes, point)  # holding `attributes` keeps its id unique
        return point

    def _overflow(self) -> _Point:
        key = frozenset(OVERFLOW.items())
        point = self._by_value.get(key)
        if point is None:
            point = self._by_value[key] = _Point(OVERFLOW, len(self.bounds) + 1, self._windows)
        return point

    def collect(self, state: ReaderState, now_ns: int) -> list[Metric]:
        """The points for one reader, in its temporality; exemplars since its previous collection."""
        points: list[HistogramDataPoint] = []
        with self._lock:
            snapshot = [
                (
                    point,
                    tuple(point.counts),
                    point.sum,
                    point.min,
                    point.max,
                    list(point.exemplars),
                    self._window(point, state),
                )
                for point in self._by_value.values()
            ]
            since, state.last_serial = state.last_serial, self._serial
            previous_ns, state.last_ns = state.last_ns, now_ns
        for point, counts, total, low, high, exemplars, window in snapshot:
            start = point.start_ns
            if state.delta:
                before_counts, before_sum = state.previous.get(id(point), (None, 0.0))
                state.previous[id(point)] = (counts, total)
                if before_counts is not None:
                    counts = tuple(now - then for now, then in zip(counts, before_counts, strict=True))
                    total -= before_sum
                    start = previous_ns
                if not any(counts):
                    continue  # nothing measured since the last collection: the SDK reports no point
                low, high = window
            points.append(
                HistogramDataPoint(
                    attributes=point.attributes,
                    start_time_unix_nano=start,
                    time_unix_nano=now_ns,
                    count=sum(counts),
                    sum=total,
                    bucket_counts=counts,
                    explicit_bounds=self.bounds,
                    min=low,
                    max=high,
                    exemplars=_exemplars(exemplars, since, point.attributes),
                )
            )
        if not points:
            return []
        temporality = AggregationTemporality.DELTA if state.delta else AggregationTemporality.CUMULATIVE
        data = Histogram(data_points=points, aggregation_temporality=temporality)
        return [
            Metric(name=name, description=self.description, unit=self.unit, data=data) for name in self.names
        ]

    @staticmethod
    def _window(point: _Point, state: ReaderState) -> tuple[float, float]:
        if not state.delta:
            return (point.min, point.max)
        window = (point.window_min[state.window], point.window_max[state.window])
        point.window_min[state.window] = math.inf
        point.window_max[state.window] = -math.inf
        return window


def _exemplars(
    found: list[tuple[float, int, int, int, int] | None], since: int, attributes: Attributes
) -> list[Exemplar]:
    # What the SDK's reservoir gives: the measurement's keys minus the point's (all of them here).
    filtered: dict[str, Any] | None = {} if attributes else None
    return [
        Exemplar(filtered, value, at, span_id, trace_id)
        for entry in found
        if entry is not None and entry[4] > since
        for value, at, span_id, trace_id, _ in (entry,)
    ]


Collect = Callable[..., MetricsData | None]


def attach(
    readers: Sequence[MetricReader],
    histograms: Sequence[BucketHistogram],
    scope: InstrumentationScope,
    resource: Resource,
) -> None:
    """Make every reader's collection (already registered on its `MeterProvider`) include `histograms`."""
    for reader in readers:
        # The SDK annotates the callback as (reader, temporality) -> MetricsData; it is called as
        # (reader, timeout_millis=...) and may return None (export/__init__.py `collect`).
        inner = cast(Collect | None, reader._collect)
        if inner is None:
            continue
        delta = reader._instrument_class_temporality[_Histogram] is AggregationTemporality.DELTA
        states = [ReaderState(delta, h.add_window() if delta else -1) for h in histograms]
        # A periodic reader collects from its thread and on force_flush from the caller's: one at a time,
        # or two collections could both count the same delta.
        lock = threading.Lock()

        def collect(
            owner: MetricReader,
            timeout_millis: float = 10_000,
            inner: Collect = inner,
            states: list[ReaderState] = states,
            lock: threading.Lock = lock,
        ) -> MetricsData | None:
            with lock:
                data = inner(owner, timeout_millis=timeout_millis)
                now = time_ns()
                ours = [m for h, state in zip(histograms, states, strict=True) for m in h.collect(state, now)]
            return merge(data, ours, scope, resource)

        reader._set_collect_callback(cast(Any, collect))


def merge(
    data: MetricsData | None, metrics: list[Metric], scope: InstrumentationScope, resource: Resource
) -> MetricsData | None:
    """`data` with `metrics` appended to `scope`'s metrics (created when the SDK had nothing there)."""
    if not metrics:
        return data
    if data is None or not data.resource_metrics:
        scoped = ScopeMetrics(scope=scope, metrics=metrics, schema_url=scope.schema_url or "")
        return MetricsData(
            resource_metrics=[
                ResourceMetrics(resource=resource, scope_metrics=[scoped], schema_url=resource.schema_url)
            ]
        )
    first, *rest = data.resource_metrics
    scopes = list(first.scope_metrics)
    for i, scoped in enumerate(scopes):
        if scoped.scope.name == scope.name:
            scopes[i] = ScopeMetrics(
                scope=scoped.scope, metrics=[*scoped.metrics, *metrics], schema_url=scoped.schema_url
            )
            break
    else:
        scopes.append(ScopeMetrics(scope=scope, metrics=metrics, schema_url=scope.schema_url or ""))
    merged = ResourceMetrics(resource=first.resource, scope_metrics=scopes, schema_url=first.schema_url)
    return MetricsData(resource_metrics=[merged, *rest])
