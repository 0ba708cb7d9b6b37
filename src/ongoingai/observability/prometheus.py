"""The Prometheus scrape endpoint: an OTel `MetricReader` collected per scrape, rendered by prometheus_client.

Names are the OTel names with `.` → `_` and nothing added (observability.md §3: no doubled `_total`, no
unit suffix; prometheus_client writes a counter family `x_total` as samples `x_total`). The request
duration histograms carry exemplars (`trace_id`, `span_id`) when the scraper asks for OpenMetrics
(`Accept: application/openmetrics-text`), the only exposition format that can hold them; the classic
text format is served otherwise. Exporter-added series (`target_info`, scope labels) are not produced.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricReader,
    MetricsData,
    NumberDataPoint,
    Sum,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.metrics_core import (
    Metric as PromMetric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar

from ongoingai.http.asgi import Receive, Scope, Send


class PrometheusReader(MetricReader):
    """Collects on demand: each scrape runs one OTel collection and renders it."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._data: MetricsData | None = None

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        self._data = metrics_data

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None

    def render(self, accept: str) -> tuple[bytes, str]:
        """(body, content type) for one scrape."""
        encoder, content_type = choose_encoder(accept)
        with self._lock:
            self.collect()
            body = encoder(_Families(self._data))
        return body, content_type


class _Families(Collector):
    """The prometheus_client view of one collection."""

    def __init__(self, data: MetricsData | None) -> None:
        self._data = data

    def collect(self) -> Iterator[PromMetric]:
        data = self._data
        if data is None:
            return
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    family = to_family(metric)
                    if family is not None:
                        yield family


def _label_names(points: Sequence[NumberDataPoint | HistogramDataPoint]) -> list[str]:
    names: dict[str, None] = {}
    for point in points:
        for key in point.attributes or {}:
            names[key] = None
    return list(names)


def _label_values(point: NumberDataPoint | HistogramDataPoint, names: list[str]) -> list[str]:
    attributes = point.attributes or {}
    return [str(attributes.get(name, "")) for name in names]


def to_family(metric: Metric) -> PromMetric | None:
    name = metric.name.replace(".", "_").replace("-", "_")
    data = metric.data
    doc = metric.description or metric.name
    if isinstance(data, Sum) and data.is_monotonic:
        counter = CounterMetricFamily(name, doc, labels=_label_names(data.data_points))
        names = list(counter._labelnames)
        for point in data.data_points:
            counter.add_metric(_label_values(point, names), point.value)
        return counter
    if isinstance(data, Sum | Gauge):
        gauge = GaugeMetricFamily(name, doc, labels=_label_names(data.data_points))
        names = list(gauge._labelnames)
        for point in data.data_points:
            gauge.add_metric(_label_values(point, names), point.value)
        return gauge
    if isinstance(data, Histogram):
        histogram = HistogramMetricFamily(name, doc, labels=_label_names(data.data_points))
        names = list(histogram._labelnames)
        for hpoint in data.data_points:
            histogram.add_metric(_label_values(hpoint, names), _buckets(hpoint), hpoint.sum)
        return histogram
    return None


def _buckets(point: HistogramDataPoint) -> list[Any]:
    exemplars = _exemplars_by_bucket(point)
    out: list[Any] = []
    cumulative = 0
    bounds = [*point.explicit_bounds, math.inf]
    for i, count in enumerate(point.bucket_counts):
        cumulative += count
        le = "+Inf" if bounds[i] == math.inf else repr(float(bounds[i]))
        exemplar = exemplars.get(i)
        out.append((le, cumulative, exemplar) if exemplar is not None else (le, cumulative))
    return out


def _exemplars_by_bucket(point: HistogramDataPoint) -> dict[int, Exemplar]:
    found: dict[int, Exemplar] = {}
    for exemplar in point.exemplars:
        if not exemplar.trace_id or not exemplar.span_id:
            continue
        index = next(
            (i for i, b in enumerate(point.explicit_bounds) if exemplar.value <= b),
            len(point.explicit_bounds),
        )
        found[index] = Exemplar(
            {"trace_id": format(exemplar.trace_id, "032x"), "span_id": format(exemplar.span_id, "016x")},
            exemplar.value,
            exemplar.time_unix_nano / 1e9,
        )
    return found


class PrometheusEndpoint:
    """The scrape route: matched by exact path before any other routing; no auth, no trace record."""

    def __init__(self, reader: PrometheusReader, path: str) -> None:
        self.reader = reader
        self.path = path

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, extra_headers: list[tuple[bytes, bytes]]
    ) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            headers = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"allow", b"GET, HEAD"),
                *extra_headers,
            ]
            await send({"type": "http.response.start", "status": 405, "headers": headers})
            await send({"type": "http.response.body", "body": b"method not allowed\n"})
            return
        accept = ""
        for name, value in scope["headers"]:
            if name == b"accept":
                accept = value.decode("latin-1")
                break
        body, content_type = self.reader.render(accept)
        headers = [(b"content-type", content_type.encode("latin-1")), *extra_headers]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
