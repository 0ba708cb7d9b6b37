"""BatchWriter: batching, flush interval, drops, shutdown, and write failures by class (fake stores)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ongoingai.config import Settings
from ongoingai.sink import BatchWriter, SpillJournal, default_spill_path
from ongoingai.sink.batch_writer import WRITES_IN_FLIGHT
from ongoingai.sink.diagnostics import pressure_state, utilization_pct
from ongoingai.store import WriteResult
from ongoingai.traces import TraceRecord
from tests.fakes.trace_records import make_record
from tests.fakes.trace_stores import MemoryTraceStore

NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def fixed_clock() -> datetime:
    return NOW


def make_writer(store: Any, tmp_path: Path | None = None, **kwargs: Any) -> BatchWriter:
    journal = SpillJournal(tmp_path / "spill", 1 << 20) if tmp_path is not None else None
    options: dict[str, Any] = {"batch_size": 4, "flush_interval_ms": 5, "clock": fixed_clock}
    return BatchWriter(store, store_driver="sqlite", journal=journal, **{**options, **kwargs})


@pytest.fixture
async def store() -> AsyncIterator[MemoryTraceStore]:
    yield MemoryTraceStore()


async def test_records_are_written_in_batches_of_at_most_batch_size(store: MemoryTraceStore) -> None:
    writer = make_writer(store)
    records = [make_record(n) for n in range(10)]
    assert all(writer.enqueue(r) for r in records)

    await writer.start()
    await store.wait_for_count(10)
    await writer.shutdown(5)

    assert [size for size, _ in store.calls] == [4, 4, 2]
    assert store.records == records


async def test_a_lone_record_is_flushed_without_a_full_batch(store: MemoryTraceStore) -> None:
    writer = make_writer(store, batch_size=64, flush_interval_ms=10)
    await writer.start()

    writer.enqueue(make_record(1))

    assert [r.id for r in await store.wait_for_count(1)] == [make_record(1).id]
    await writer.shutdown(5)


async def test_a_full_queue_drops_and_counts_without_blocking(store: MemoryTraceStore) -> None:
    writer = make_writer(store, queue_capacity=2)

    accepted = [writer.enqueue(make_record(n)) for n in range(3)]

    assert accepted == [True, True, False]
    d = writer.diagnostics()
    assert (d["enqueue_accepted_total"], d["enqueue_dropped_total"], d["total_dropped_total"]) == (2, 1, 1)
    assert (d["queue_depth"], d["queue_depth_high_watermark"]) == (2, 2)
    assert (d["queue_pressure_state"], d["queue_high_watermark_pressure_state"]) == ("saturated", "saturated")
    assert d["last_enqueue_drop_at"] == NOW


async def test_diagnostics_have_exactly_the_documented_fields(store: MemoryTraceStore) -> None:
    writer = make_writer(store, queue_capacity=1024)
    for n in range(16):
        writer.enqueue(make_record(n))

    d = writer.diagnostics()

    assert list(d) == [
        "queue_capacity",
        "queue_depth",
        "queue_depth_high_watermark",
        "queue_utilization_pct",
        "queue_high_watermark_utilization_pct",
        "queue_pressure_state",
        "queue_high_watermark_pressure_state",
        "enqueue_accepted_total",
        "enqueue_dropped_total",
        "write_dropped_total",
        "total_dropped_total",
        "store_driver",
        "spill_journal_depth",
        "spill_journal_bytes",
        "spilled_total",
        "replayed_total",
    ]
    assert (d["queue_capacity"], d["queue_depth"], d["queue_utilization_pct"]) == (1024, 16, 1)
    assert d["queue_pressure_state"] == "ok"


@pytest.mark.parametrize(
    ("depth", "capacity", "pct", "state"),
    [
        (0, 1024, 0, "ok"),
        (16, 1024, 1, "ok"),
        (511, 1024, 49, "ok"),
        (512, 1024, 50, "elevated"),
        (900, 1024, 87, "high"),
        (1023, 1024, 99, "high"),
        (1024, 1024, 100, "saturated"),
        (2000, 1024, 100, "saturated"),
        (5, 0, 0, "ok"),
        (-1, 10, 0, "ok"),
    ],
    ids=lambda v: str(v),
)
def test_utilization_and_pressure_state(depth: int, capacity: int, pct: int, state: str) -> None:
    assert utilization_pct(depth, capacity) == pct
    assert pressure_state(pct) == state


async def test_shutdown_flushes_every_accepted_record(
    store: MemoryTraceStore, caplog: pytest.LogCaptureFixture
) -> None:
    writer = make_writer(store, batch_size=64, flush_interval_ms=200)
    await writer.start()
    records = [make_record(n) for n in range(150)]
    for record in records:
        writer.enqueue(record)

    with caplog.at_level(logging.INFO, logger="ongoingai.sink.batch_writer"):
        await writer.shutdown(5)

    assert store.records == records
    [log] = [r for r in caplog.records if r.getMessage() == "flushed pending traces before shutdown"]
    assert isinstance(log.__dict__["duration_ms"], int)


async def test_records_after_shutdown_are_refused_and_counted(store: MemoryTraceStore) -> None:
    writer = make_writer(store)
    await writer.start()
    await writer.shutdown(5)

    assert writer.enqueue(make_record(1)) is False
    assert writer.diagnostics()["enqueue_dropped_total"] == 1


async def test_a_rejected_record_is_dropped_and_counted_by_class(
    store: MemoryTraceStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store.reject_ids = {make_record(2).id}
    writer = make_writer(store, tmp_path)
    await writer.start()
    for n in range(1, 4):
        writer.enqueue(make_record(n))

    with caplog.at_level(logging.ERROR, logger="ongoingai.sink.batch_writer"):
        await writer.shutdown(5)

    d = writer.diagnostics()
    assert (d["write_dropped_total"], d["total_dropped_total"], d["spilled_total"]) == (1, 1, 0)
    assert d["write_failures_by_class"] == {"constraint": 1}
    assert (d["last_write_drop_at"], d["last_write_drop_operation"]) == (NOW, "write_batch_fallback")
    [log] = [r for r in caplog.records if r.getMessage() == "trace persistence failed; dropped trace records"]
    fields = {
        k: log.__dict__[k] for k in ("operation", "batch_size", "failed_count", "error_class", "error_kind")
    }
    assert fields == {
        "operation": "write_batch_fallback",
        "batch_size": 3,
        "failed_count": 1,
        "error_class": "constraint",
        "error_kind": "FakeError",
    }


async def test_without_a_journal_an_outage_drops_and_counts(store: MemoryTraceStore) -> None:
    store.fail_with("timeout")
    writer = make_writer(store)
    await writer.start()
    writer.enqueue(make_record(1))

    await writer.shutdown(5)

    d = writer.diagnostics()
    assert (d["write_dropped_total"], d["write_failures_by_class"]) == (1, {"timeout": 1})


class ExplodingStore:
    def __init__(self) -> None:
        self.inner = MemoryTraceStore()
        self.explode = True

    async def write_batch(self, records: Sequence[TraceRecord], *, idempotent: bool = False) -> WriteResult:
        if self.explode:
            self.explode = False
            raise RuntimeError("bug in a store")
        return await self.inner.write_batch(records, idempotent=idempotent)


async def test_the_worker_survives_an_unexpected_store_exception() -> None:
    store = ExplodingStore()
    writer = make_writer(store, batch_size=1)
    await writer.start()
    writer.enqueue(make_record(1))
    writer.enqueue(make_record(2))

    await store.inner.wait_for_count(1)
    await writer.shutdown(5)

    assert [r.id for r in store.inner.records] == [make_record(2).id]
    assert writer.diagnostics()["write_dropped_total"] == 1


def test_the_default_spill_path_sits_next_to_the_database(tmp_path: Path) -> None:
    sqlite = Settings(storage={"path": str(tmp_path / "db" / "x.db")})
    postgres = Settings(storage={"driver": "postgres", "dsn": "postgres://x/y"})
    explicit = Settings(tracing={"spill": {"path": str(tmp_path / "elsewhere")}})

    assert default_spill_path(sqlite) == tmp_path / "db" / "spill"
    assert default_spill_path(postgres) == Path("data") / "spill"
    assert default_spill_path(explicit) == tmp_path / "elsewhere"


def test_from_settings_takes_the_writer_sizes(tmp_path: Path) -> None:
    settings = Settings(
        tracing={"writer": {"queue_capacity": 7, "batch_size": 3, "flush_interval_ms": 50}},
    )

    writer = BatchWriter.from_settings(settings, MemoryTraceStore())

    assert (writer.capacity, writer.batch_size, writer.flush_interval_s) == (7, 3, 0.05)
    assert writer.diagnostics()["store_driver"] == "sqlite"


@pytest.mark.parametrize(
    ("storage", "expected"),
    [
        ({}, 16),  # one queue's worth: 1,024 records in batches of 64
        ({"driver": "postgres", "dsn": "postgresql://u@h/db"}, 10),  # pool of 20
        ({"driver": "postgres", "dsn": "postgresql://u@h/db", "pool": {"min_size": 1, "max_size": 4}}, 2),
        ({"driver": "postgres", "dsn": "postgresql://u@h/db", "pool": {"min_size": 1, "max_size": 1}}, 1),
    ],
    ids=["sqlite", "postgres-default-pool", "postgres-pool-4", "postgres-pool-1"],
)
def test_postgres_writes_in_flight_leave_half_the_pool_to_reads(
    storage: dict[str, Any], expected: int
) -> None:
    writer = BatchWriter.from_settings(Settings(storage=storage), MemoryTraceStore())
    assert writer.writes_in_flight == expected


@pytest.mark.parametrize(
    ("writer_settings", "expected"),
    [
        ({"queue_capacity": 4096, "batch_size": 64}, 64),
        ({"queue_capacity": 1024, "batch_size": 256}, WRITES_IN_FLIGHT),  # 4 batches: the floor
        ({"queue_capacity": 100, "batch_size": 1}, 100),
    ],
)
def test_up_to_one_queues_worth_of_records_is_in_flight(
    writer_settings: dict[str, int], expected: int
) -> None:
    settings = Settings(tracing={"writer": writer_settings})
    writer = BatchWriter.from_settings(settings, MemoryTraceStore())
    assert writer.writes_in_flight == expected


async def test_the_store_can_be_given_at_start_after_records_queued(tmp_path: Path) -> None:
    settings = Settings(tracing={"spill": {"path": str(tmp_path / "spill")}})
    writer = BatchWriter.from_settings(settings)
    writer.enqueue(make_record(1))
    store = MemoryTraceStore()

    await writer.start(store)

    assert [r.id for r in await store.wait_for_count(1)] == [make_record(1).id]
    await writer.shutdown(5)


async def test_starting_without_a_store_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a trace store"):
        await BatchWriter(None, store_driver="sqlite").start()


async def test_at_most_writes_in_flight_batches_are_with_the_store_at_once(store: MemoryTraceStore) -> None:
    store.hold()
    writer = make_writer(store, batch_size=2)
    for n in range(1, 21):
        writer.enqueue(make_record(n))
    await writer.start()
    await store.wait_for_calls(WRITES_IN_FLIGHT)
    for _ in range(20):  # turns of the loop in which a writer without the bound would hand over more
        await asyncio.sleep(0)
    assert len(store.calls) == WRITES_IN_FLIGHT

    store.release()
    stored = await store.wait_for_count(20)
    await writer.shutdown(5)
    assert sorted(r.id for r in stored) == sorted(make_record(n).id for n in range(1, 21))
    assert len(store.calls) == 10  # every batch once
