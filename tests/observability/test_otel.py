"""Setup, failure isolation and shutdown of `Telemetry` (observability.md §1; issue 7)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ongoingai.app import Gateway
from ongoingai.config import Settings
from ongoingai.observability.export import BoundedSpanProcessor
from ongoingai.observability.otel import Telemetry, otlp_base_url
from ongoingai.observability.scrub import Scrubber
from tests.e2e import wire
from tests.e2e.conftest import gateway_settings
from tests.fakes.memory_sink import MemorySink
from tests.fakes.servers import ServerThread, free_port
from tests.fakes.upstream import FakeUpstream, Reply


def otel_settings(**otel: Any) -> Settings:
    return Settings(observability={"otel": {"enabled": True, **otel}})


def test_disabled_by_default_costs_nothing() -> None:
    telemetry = Telemetry.from_settings(Settings())
    assert telemetry.tracer is None and telemetry.metrics is None and telemetry.prometheus is None
    assert telemetry.active is False


def test_success_logs_the_spec_fields(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    telemetry = Telemetry.from_settings(
        otel_settings(sampling_ratio=0.5, prometheus_enabled=True),
        span_exporter=InMemorySpanExporter(),
        metric_reader=InMemoryMetricReader(),
    )
    record = next(r for r in caplog.records if r.getMessage() == "opentelemetry enabled")
    assert record.__dict__["otel_endpoint"] == "localhost:4318"
    assert record.__dict__["otel_traces_enabled"] is True
    assert record.__dict__["otel_metrics_enabled"] is True
    assert record.__dict__["otel_prometheus_enabled"] is True
    assert record.__dict__["otel_sampling_ratio"] == 0.5
    assert telemetry.active
    telemetry.force_flush()
    telemetry._shutdown_sync(1)


def test_initialisation_failure_is_logged_and_leaves_telemetry_off(caplog: pytest.LogCaptureFixture) -> None:
    telemetry = Telemetry.from_settings(otel_settings(endpoint="grpc://collector:4317"))
    assert telemetry.active is False
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert (
        record.getMessage() == "failed to initialize opentelemetry; continuing with instrumentation disabled"
    )
    assert "grpc" in record.__dict__["error"]


@pytest.mark.parametrize(
    ("endpoint", "insecure", "url"),
    [
        ("localhost:4318", True, "http://localhost:4318"),
        ("collector:4318", False, "https://collector:4318"),
        ("https://otel.example:4318/", True, "https://otel.example:4318"),
        ("http://127.0.0.1:4318", False, "http://127.0.0.1:4318"),
    ],
)
def test_endpoint_forms(endpoint: str, insecure: bool, url: str) -> None:
    assert otlp_base_url(endpoint, insecure) == url


class _GatedExporter(SpanExporter):
    def __init__(self) -> None:
        self.gate = threading.Event()
        self.exported: list[str] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.gate.wait(10)
        self.exported.extend(s.name for s in spans)
        return SpanExportResult.SUCCESS


def test_a_stuck_exporter_bounds_the_queue_and_counts_drops(caplog: pytest.LogCaptureFixture) -> None:
    drops: list[tuple[int, str, str]] = []
    exporter = _GatedExporter()
    processor = BoundedSpanProcessor(
        exporter,
        scrubber=Scrubber(),
        count_drop=lambda n, signal, reason: drops.append((n, signal, reason)),
        max_queue=3,
        schedule_delay_ms=60_000,
        export_timeout_ms=1000,
    )
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    for i in range(6):
        tracer.start_span(f"s{i}").end()
    assert drops == [(1, "traces", "queue_full")] * 3
    assert [r.getMessage() for r in caplog.records].count("span export queue is full; dropping spans") == 1
    exporter.gate.set()
    provider.force_flush()
    assert sorted(exporter.exported) == ["s0", "s1", "s2"]
    provider.shutdown()


def test_collector_down_changes_nothing_for_clients(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    fake = FakeUpstream()
    upstream = ServerThread(fake)
    upstream.start()
    settings = gateway_settings(
        upstream.url,
        observability__otel__enabled=True,
        observability__otel__endpoint=f"127.0.0.1:{free_port()}",
        observability__otel__export_timeout_ms=200,
    )
    reader = InMemoryMetricReader()
    telemetry = Telemetry.from_settings(settings, metric_reader=reader)
    sink = MemorySink()
    gateway = ServerThread(Gateway(settings, sink, telemetry=telemetry))
    gateway.start()
    try:
        for _ in range(3):
            fake.script("/v1/chat/completions", Reply.json(wire.CHAT_COMPLETION))
            response = httpx.post(
                gateway.url + "/openai/v1/chat/completions", json={"model": "gpt-4o"}, timeout=10
            )
            assert response.status_code == 200
        sink.wait_for(3)
        for _ in range(2):
            telemetry.force_flush()  # each flush fails against the dead collector
    finally:
        gateway.stop()
        upstream.stop()
    failures = [r for r in caplog.records if r.getMessage().startswith("opentelemetry export failed")]
    assert len(failures) == 1  # logged once per outage
    data = reader.get_metrics_data()
    assert data is not None
    dropped: list[Any] = [
        p
        for r in data.resource_metrics
        for s in r.scope_metrics
        for m in s.metrics
        if m.name == "ongoingai.telemetry.dropped"
        for p in m.data.data_points
    ]
    assert dropped and all(
        dict(p.attributes) == {"signal": "traces", "reason": "export_failed"} for p in dropped
    )
    assert sum(p.value for p in dropped) >= 1


async def test_shutdown_is_bounded_even_if_the_exporter_hangs(caplog: pytest.LogCaptureFixture) -> None:
    exporter = _GatedExporter()  # never released: export hangs
    telemetry = Telemetry.from_settings(otel_settings(metrics_enabled=False), span_exporter=exporter)
    assert telemetry.tracer is not None
    telemetry.tracer.start_span("pending").end()
    await telemetry.shutdown(timeout=0.2)
    assert any(r.getMessage() == "failed to flush telemetry before shutdown" for r in caplog.records)
    exporter.gate.set()


async def test_shutdown_flushes_pending_spans() -> None:
    exporter = _GatedExporter()
    exporter.gate.set()
    telemetry = Telemetry.from_settings(otel_settings(metrics_enabled=False), span_exporter=exporter)
    assert telemetry.tracer is not None
    telemetry.tracer.start_span("pending").end()
    await telemetry.shutdown()
    assert exporter.exported == ["pending"]
