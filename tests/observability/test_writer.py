"""The batch writer's telemetry: a root `gateway.trace.write` span per batch and the trace.* instruments."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from ongoingai.app import Lifecycle
from ongoingai.config import Settings
from ongoingai.observability.otel import Telemetry
from ongoingai.observability.writer import WriterTelemetry
from ongoingai.sink import BatchWriter, SpillJournal
from tests.fakes.trace_records import make_record
from tests.fakes.trace_stores import MemoryTraceStore


def observed_writer(
    store: MemoryTraceStore, journal: SpillJournal | None = None
) -> tuple[BatchWriter, Telemetry, InMemorySpanExporter, InMemoryMetricReader]:
    settings = Settings(observability={"otel": {"enabled": True, "endpoint": ""}})
    exporter = InMemorySpanExporter()
    reader = InMemoryMetricReader()
    telemetry = Telemetry.from_settings(settings, span_exporter=exporter, metric_reader=reader)
    writer = BatchWriter(
        store,
        store_driver="sqlite",
        journal=journal,
        batch_size=3,
        flush_interval_ms=10,
        retry_initial_s=0.001,
        retry_max_s=0.005,
    )
    telemetry.watch(writer, Lifecycle())
    assert writer.telemetry is telemetry.writer
    return writer, telemetry, exporter, reader


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    return {
        m.name: list(m.data.data_points)
        for r in data.resource_metrics
        for s in r.scope_metrics
        for m in s.metrics
    }


async def test_each_batch_is_a_root_write_span_with_metrics() -> None:
    store = MemoryTraceStore()
    writer, telemetry, exporter, reader = observed_writer(store)
    await writer.start()
    for n in range(3):
        assert writer.enqueue(make_record(n))
    await store.wait_for_count(3)
    await writer.shutdown(5)
    telemetry.force_flush()
    (span,) = exporter.get_finished_spans()
    assert span.name == "gateway.trace.write"
    assert span.parent is None
    assert span.attributes is not None
    assert span.attributes["gateway.trace.write.batch_size"] == 3
    assert span.attributes["gateway.provider"] == "unknown"
    assert span.status.status_code is StatusCode.UNSET
    metrics = points(reader)
    assert metrics["ongoingai.trace.written_total"][0].value == 3
    assert metrics["ongoingai.trace.flush_batch_size"][0].sum == 3
    assert metrics["ongoingai.trace.flush_duration_seconds"][0].count == 1
    assert [p.value for p in metrics["ongoingai.trace.queue_capacity"]] == [writer.capacity]
    assert [p.value for p in metrics["ongoingai.trace.queue_depth"]] == [0]


async def test_rejected_records_fail_the_span_and_count_by_class() -> None:
    store = MemoryTraceStore()
    store.reject_ids = {make_record(1).id}
    writer, telemetry, exporter, reader = observed_writer(store)
    await writer.start()
    writer.enqueue(make_record(1))
    writer.enqueue(make_record(2))
    await writer.shutdown(5)
    telemetry.force_flush()
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "write failed"
    assert span.attributes is not None
    assert span.attributes["gateway.trace.write.error_class"] == "constraint"
    (failed,) = points(reader)["ongoingai.trace.write_failed_total"]
    assert failed.value == 1
    assert dict(failed.attributes) == {
        "operation": failed.attributes["operation"],
        "error_class": "constraint",
        "store": "sqlite",
    }


async def test_writer_without_telemetry_still_works() -> None:
    store = MemoryTraceStore()
    writer = BatchWriter(store, store_driver="sqlite", flush_interval_ms=10)
    assert isinstance(writer.telemetry, WriterTelemetry)
    await writer.start()
    writer.enqueue(make_record(1))
    await writer.shutdown(5)
    assert len(store.records) == 1


async def test_rows_replayed_from_the_spill_journal_count_as_written(tmp_path: Path) -> None:
    """Issue 7: after an outage, written_total catches up with what was enqueued (replay included)."""
    store = MemoryTraceStore()
    store.fail_with("connection")
    writer, _, _, reader = observed_writer(store, SpillJournal(tmp_path, 1 << 20))
    await writer.start()
    for n in range(5):
        writer.enqueue(make_record(n))
    async with asyncio.timeout(10):
        while writer.diagnostics()["spilled_total"] < 5:
            await asyncio.sleep(0.001)
    store.fail_with(None)
    await store.wait_for_count(5)
    writer.enqueue(make_record(5))  # a live batch after the replay: both paths add up
    await store.wait_for_count(6)
    await writer.shutdown(5)

    assert writer.diagnostics()["replayed_total"] == 5
    (written,) = points(reader)["ongoingai.trace.written_total"]
    assert written.value == 6
