"""Our histograms (observability/histograms.py) give every reader what the SDK's synchronous histogram gives:
same points, bounds, min/max, exemplars, temporality, overflow set. Checked side by side with the SDK."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics import Histogram as HistogramInstrument
from opentelemetry.sdk.metrics import MeterProvider, TraceBasedExemplarFilter
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import use_span

from ongoingai.observability.histograms import BucketHistogram, attach, sampled_context

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
SCOPE = InstrumentationScope("ongoingai.gateway", "test")
A = {"provider": "openai", "route": "/openai/*"}
B = {"provider": "anthropic", "route": "/anthropic/*"}


class Pair:
    """An SDK histogram and ours, each on a provider of its own with an in-memory reader."""

    def __init__(self, temporality: AggregationTemporality = AggregationTemporality.CUMULATIVE) -> None:
        preferred = {HistogramInstrument: temporality}
        self.sdk_reader = InMemoryMetricReader(preferred_temporality=preferred)
        self.our_reader = InMemoryMetricReader(preferred_temporality=preferred)
        resource = Resource.create({"service.name": "test"})
        sdk_provider = MeterProvider(
            metric_readers=[self.sdk_reader],
            resource=resource,
            exemplar_filter=TraceBasedExemplarFilter(),
            shutdown_on_exit=False,
        )
        MeterProvider(metric_readers=[self.our_reader], resource=resource, shutdown_on_exit=False)
        self.sdk = sdk_provider.get_meter("ongoingai.gateway", "test").create_histogram(
            "h", unit="s", description="d", explicit_bucket_boundaries_advisory=BOUNDS
        )
        self.ours = BucketHistogram(("h",), "d", BOUNDS, unit="s")
        attach([self.our_reader], [self.ours], SCOPE, resource)

    def record(self, value: float, attributes: dict[str, Any]) -> None:
        self.sdk.record(value, attributes)
        self.ours.record(value, attributes, sampled_context())

    def collect(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return points(self.sdk_reader), points(self.our_reader)


def points(reader: InMemoryMetricReader) -> list[dict[str, Any]]:
    data = reader.get_metrics_data()
    out: list[dict[str, Any]] = []
    if data is None:
        return out
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for p in metric.data.data_points:
                    out.append(
                        {
                            "metric": (metric.name, metric.unit, metric.description, scope.scope.name),
                            "temporality": metric.data.aggregation_temporality,
                            "attributes": dict(p.attributes),
                            "count": p.count,
                            "sum": p.sum,
                            "buckets": list(p.bucket_counts),
                            "bounds": [float(b) for b in p.explicit_bounds],
                            "min": p.min,
                            "max": p.max,
                            "exemplars": [
                                (e.value, e.trace_id, e.span_id, e.filtered_attributes) for e in p.exemplars
                            ],
                        }
                    )
    return sorted(out, key=lambda p: sorted(p["attributes"].items()))


@pytest.mark.parametrize("temporality", [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA])
def test_points_match_the_sdk_histogram(temporality: AggregationTemporality) -> None:
    pair = Pair(temporality)
    tracer = TracerProvider(shutdown_on_exit=False).get_tracer("t")
    for value in (0.001, 0.005, 0.0051, 0.3, 12.0):
        pair.record(value, A)
    with use_span(tracer.start_span("sampled"), end_on_exit=True):
        pair.record(0.07, A)
        pair.record(0.2, B)
    sdk, ours = pair.collect()
    assert ours == sdk and len(ours) == 2
    assert any(p["exemplars"] for p in ours)
    # A second window: only B moves; exemplars are those offered since the previous collection.
    pair.record(1.5, B)
    sdk, ours = pair.collect()
    assert ours == sdk
    sdk, ours = pair.collect()  # nothing since: delta has no point, cumulative repeats both
    assert ours == sdk


def test_label_sets_past_the_cardinality_limit_overflow() -> None:
    pair = Pair()
    for i in range(2005):
        pair.record(0.01, {"provider": f"p{i}"})
    sdk, ours = pair.collect()
    assert ours == sdk
    assert {"otel.metric.overflow": True} in [p["attributes"] for p in ours]


def test_one_record_feeds_every_name() -> None:
    histogram = BucketHistogram(("a", "b"), "d", BOUNDS)
    reader = InMemoryMetricReader()
    MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    attach([reader], [histogram], SCOPE, Resource.create({}))
    histogram.record(0.02, A)
    assert [p["metric"][0] for p in points(reader)] == ["a", "b"]
