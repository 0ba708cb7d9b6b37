"""BatchWriter with a spill journal: outages lose nothing and keep order; drops only when it is full."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ongoingai.sink import BatchWriter, SpillJournal
from ongoingai.sink.batch_writer import WRITES_IN_FLIGHT
from tests.fakes.trace_records import make_record
from tests.fakes.trace_stores import FailingStore, MemoryTraceStore


def spill_writer(store: Any, spill_dir: Path, max_bytes: int = 1 << 20, **kwargs: Any) -> BatchWriter:
    return BatchWriter(
        store,
        store_driver="postgres",
        journal=SpillJournal(spill_dir, max_bytes),
        batch_size=4,
        flush_interval_ms=5,
        retry_initial_s=0.001,
        retry_max_s=0.005,
        **kwargs,
    )


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (bounded) until `condition()` holds; fails the test if it never does."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


def ids(*numbers: int) -> list[str]:
    return [make_record(n).id for n in numbers]


async def test_an_outage_spills_and_replays_in_order_with_no_loss(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FailingStore("connection")
    writer = spill_writer(store, tmp_path)
    await writer.start()
    with caplog.at_level(logging.INFO, logger="ongoingai.sink"):
        for n in range(1, 6):
            writer.enqueue(make_record(n))
        await eventually(lambda: writer.diagnostics()["spilled_total"] == 5)
        for n in range(6, 9):
            writer.enqueue(make_record(n))
        await eventually(lambda: writer.diagnostics()["spilled_total"] == 8)

        store.fail_with(None)
        stored = await store.wait_for_count(8)
        await writer.shutdown(5)

    assert [r.id for r in stored] == ids(*range(1, 9))
    d = writer.diagnostics()
    assert (d["write_dropped_total"], d["spilled_total"], d["replayed_total"]) == (0, 8, 8)
    assert (d["spill_journal_depth"], d["spill_journal_bytes"]) == (0, 0)
    assert d["write_failures_by_class"]["connection"] >= 4
    messages = [r.getMessage() for r in caplog.records]
    assert "trace store unavailable; spilling trace records to journal" in messages
    assert "trace store answers again; spilled trace records replayed" in messages


async def test_records_spilled_before_a_restart_are_replayed_at_start(tmp_path: Path) -> None:
    down = spill_writer(FailingStore("timeout"), tmp_path)
    await down.start()
    for n in range(1, 4):
        down.enqueue(make_record(n))
    await down.shutdown(5)
    assert down.diagnostics()["spill_journal_depth"] == 3

    store = MemoryTraceStore()
    up = spill_writer(store, tmp_path)
    assert up.diagnostics()["spill_journal_depth"] == 0
    await up.start()
    up.enqueue(make_record(4))

    assert [r.id for r in await store.wait_for_count(4)] == ids(1, 2, 3, 4)
    await up.shutdown(5)
    assert up.diagnostics()["replayed_total"] == 3
    assert all(idempotent for _, idempotent in store.calls[:1])


async def test_a_full_journal_drops_and_counts(tmp_path: Path) -> None:
    writer = spill_writer(FailingStore("connection"), tmp_path, max_bytes=1)
    await writer.start()
    for n in range(1, 9):
        writer.enqueue(make_record(n))

    await writer.shutdown(5)

    d = writer.diagnostics()
    assert (d["write_dropped_total"], d["spilled_total"], d["total_dropped_total"]) == (8, 0, 8)
    assert d["last_write_drop_operation"] == "spill_journal"


async def test_a_shutdown_timeout_journals_what_is_left(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryTraceStore()
    store.hold()
    writer = spill_writer(store, tmp_path)
    for n in range(1, 7):
        writer.enqueue(make_record(n))
    await writer.start()
    await store.wait_for_calls(1)

    with caplog.at_level(logging.ERROR, logger="ongoingai.sink.batch_writer"):
        await writer.shutdown(0.01)

    d = writer.diagnostics()
    assert (d["spill_journal_depth"], d["write_dropped_total"]) == (6, 0)
    [log] = [r for r in caplog.records if r.getMessage() == "failed to flush pending traces before shutdown"]
    assert (log.__dict__["error"], log.__dict__["timeout"]) == ("timeout", 0.01)

    later = MemoryTraceStore()
    restarted = spill_writer(later, tmp_path)
    await restarted.start()
    assert [r.id for r in await later.wait_for_count(6)] == ids(1, 2, 3, 4, 5, 6)
    await restarted.shutdown(5)


async def test_shutdown_during_an_outage_journals_everything(tmp_path: Path) -> None:
    writer = spill_writer(FailingStore("connection"), tmp_path)
    await writer.start()
    for n in range(1, 11):
        writer.enqueue(make_record(n))

    await writer.shutdown(5)

    d = writer.diagnostics()
    assert (d["spill_journal_depth"], d["spilled_total"], d["write_dropped_total"]) == (10, 10, 0)


class CountingJournal(SpillJournal):
    """Counts appends: each is one fsync."""

    appends = 0

    def append(self, records: list[Any]) -> bool:
        self.appends += 1
        return super().append(records)


async def test_during_an_outage_queued_records_share_one_journal_append(tmp_path: Path) -> None:
    store = FailingStore("connection")
    journal = CountingJournal(tmp_path, 1 << 20)
    writer = BatchWriter(
        store,
        store_driver="postgres",
        journal=journal,
        batch_size=4,
        flush_interval_ms=5,
        retry_initial_s=0.001,
        retry_max_s=0.005,
    )
    await writer.start()
    writer.enqueue(make_record(1))
    await eventually(lambda: writer.diagnostics()["spilled_total"] == 1)
    for n in range(2, 42):  # 40 at once: ten batches' worth, queued before the writer runs again
        writer.enqueue(make_record(n))
    await eventually(lambda: writer.diagnostics()["spilled_total"] == 41)
    assert journal.appends == 2  # the first batch, then everything queued behind the backlog in one

    store.fail_with(None)
    stored = await store.wait_for_count(41)
    await writer.shutdown(5)
    assert [r.id for r in stored] == ids(*range(1, 42))
    assert writer.diagnostics()["write_dropped_total"] == 0


def stalling_writer(store: MemoryTraceStore, spill_dir: Path, **overrides: Any) -> BatchWriter:
    options: dict[str, Any] = {
        "queue_capacity": 8,
        "batch_size": 2,
        "flush_interval_ms": 5,
        "retry_initial_s": 0.001,
        "retry_max_s": 0.005,
        "stall_after_s": 0.0,  # given up at the first check that finds the queue half full
        "writes_in_flight": 1,  # one batch with the store: the rest wait in the queue the watch looks at
    }
    journal = SpillJournal(spill_dir, 1 << 20)
    return BatchWriter(store, store_driver="postgres", journal=journal, **{**options, **overrides})


async def test_a_write_that_hangs_while_the_queue_fills_is_journalled_and_nothing_is_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryTraceStore()
    store.hold()  # the store takes the write and never answers
    writer = stalling_writer(store, tmp_path)
    await writer.start()
    with caplog.at_level(logging.WARNING, logger="ongoingai.sink"):
        writer.enqueue(make_record(1))
        await store.wait_for_calls(1)  # batch [1] is in flight
        for n in range(2, 8):  # 6 of 8 places taken: without the watch, the next burst would be dropped
            assert writer.enqueue(make_record(n))
        await eventually(lambda: writer.diagnostics()["spilled_total"] == 7)
    d = writer.diagnostics()
    assert d["write_failures_by_class"]["timeout"] == 1
    assert (d["enqueue_dropped_total"], d["write_dropped_total"]) == (0, 0)
    assert "trace store write stalled while the queue filled; journalling the batch" in caplog.messages

    store.release()
    stored = await store.wait_for_count(7)
    await writer.shutdown(5)
    assert [r.id for r in stored] == ids(*range(1, 8))  # in order, once each


async def test_a_slow_write_is_waited_for_while_the_queue_stays_low(tmp_path: Path) -> None:
    store = MemoryTraceStore()
    store.hold()
    writer = stalling_writer(store, tmp_path)
    await writer.start()
    writer.enqueue(make_record(1))
    await store.wait_for_calls(1)
    await asyncio.sleep(0.35)  # several checks of the watch run, each finding the queue empty
    store.release()
    assert [r.id for r in await store.wait_for_count(1)] == ids(1)
    await writer.shutdown(5)
    assert writer.diagnostics()["spilled_total"] == 0


async def test_a_shutdown_timeout_journals_every_batch_still_being_written(tmp_path: Path) -> None:
    store = MemoryTraceStore()
    store.hold()
    writer = spill_writer(store, tmp_path)
    for n in range(1, 21):
        writer.enqueue(make_record(n))
    await writer.start()
    # That many batches handed to the store (all 5 of 4 records, if fewer), none answered.
    await store.wait_for_calls(min(WRITES_IN_FLIGHT, 5))

    await writer.shutdown(0.01)

    d = writer.diagnostics()
    assert (d["spill_journal_depth"], d["write_dropped_total"]) == (20, 0)
    later = MemoryTraceStore()
    restarted = spill_writer(later, tmp_path)
    await restarted.start()
    assert sorted(r.id for r in await later.wait_for_count(20)) == ids(*range(1, 21))
    await restarted.shutdown(5)


class FirstWriteHangs(MemoryTraceStore):
    """The first write waits for `release()`; every later one is answered after `delay_s`."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self._delay_s = delay_s
        self._first = True
        self._released = asyncio.Event()

    def release(self) -> None:
        self._released.set()

    async def write_batch(self, records: Any, *, idempotent: bool = False) -> Any:
        if self._first:
            self._first = False
            await self._released.wait()
        else:
            await asyncio.sleep(self._delay_s)
        return await super().write_batch(records, idempotent=idempotent)


async def test_a_slow_write_is_waited_for_while_the_store_answers_the_others(tmp_path: Path) -> None:
    store = FirstWriteHangs(delay_s=0.01)
    writer = stalling_writer(store, tmp_path, stall_after_s=0.5, writes_in_flight=WRITES_IN_FLIGHT)
    await writer.start()
    n = 0
    loop = asyncio.get_running_loop()
    until = loop.time() + 1.2  # the first write is older than `stall_after_s` for most of this
    while loop.time() < until:
        while writer.diagnostics()["queue_depth"] < 6:  # keep the queue at least half full
            n += 1
            assert writer.enqueue(make_record(n))
        await asyncio.sleep(0.005)
    d = writer.diagnostics()
    assert (d["spilled_total"], d.get("write_failures_by_class")) == (0, None)

    store.release()
    await writer.shutdown(10)
    assert sorted(r.id for r in store.records) == ids(*range(1, n + 1))
