"""The audit writer: bounded queue, batches, drops counted (full queue, refused batch, shutdown)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy.exc import OperationalError

from ongoingai.auth.audit import AuditEvent, AuditWriter
from tests.fakes.clocks import ManualClock


class MemoryAuditStore:
    def __init__(self) -> None:
        self.batches: list[list[AuditEvent]] = []
        self.fail: BaseException | None = None
        self.gate: asyncio.Event | None = None
        self.writing = asyncio.Event()

    async def write_audit_events(self, events: Sequence[AuditEvent]) -> None:
        self.writing.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        self.batches.append(list(events))


def writer(**kw: object) -> AuditWriter:
    clock = ManualClock()
    ids = iter(range(10**6))
    return AuditWriter(clock=clock.datetime, new_id=lambda: f"a{next(ids)}", **kw)  # type: ignore[arg-type]


async def test_records_are_written_in_batches_with_their_fields() -> None:
    store = MemoryAuditStore()
    w = writer(batch_size=3, flush_interval_s=0.01)
    for n in range(7):
        assert w.record("auth.deny", "denied", reason="missing_gateway_key", details={"n": n})
    async with asyncio.TaskGroup() as tasks:
        w.start(store, tasks)
        await w.shutdown(5)

    assert [len(b) for b in store.batches] == [3, 3, 1]
    first = store.batches[0][0]
    assert (first.id, first.action, first.outcome, first.reason, first.details) == (
        "a0",
        "auth.deny",
        "denied",
        "missing_gateway_key",
        {"n": 0},
    )
    assert (w.written_total, w.dropped_total) == (7, 0)


async def test_a_full_queue_drops_and_counts_without_waiting() -> None:
    w = writer(capacity=2)

    results = [w.record("key.create", "allowed") for _ in range(5)]

    assert results == [True, True, False, False, False]
    assert (w.depth, w.dropped_total) == (2, 3)


async def test_a_refused_batch_is_dropped_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryAuditStore()
    store.fail = OperationalError("INSERT", {}, Exception("connection refused"))
    w = writer(flush_interval_s=0.01)
    w.record("key.revoke", "allowed")
    w.record("key.revoke", "allowed")
    async with asyncio.TaskGroup() as tasks:
        w.start(store, tasks)
        await w.shutdown(5)

    assert (w.dropped_total, w.written_total) == (2, 0)
    assert "audit persistence failed; dropped audit records" in caplog.text


async def test_an_unexpected_error_does_not_stop_the_worker(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryAuditStore()
    store.fail = RuntimeError("bug")
    w = writer(batch_size=1, flush_interval_s=0.01)
    async with asyncio.TaskGroup() as tasks:
        w.start(store, tasks)
        w.record("key.rotate", "allowed")
        await store.writing.wait()
        while not w.dropped_total:
            await asyncio.sleep(0)
        store.fail = None
        w.record("key.rotate", "allowed")
        await w.shutdown(5)

    assert (w.dropped_total, w.written_total) == (1, 1)
    assert "audit writer failed on a batch" in caplog.text


async def test_records_after_shutdown_are_refused_and_counted() -> None:
    w = writer()
    async with asyncio.TaskGroup() as tasks:
        w.start(MemoryAuditStore(), tasks)
        await w.shutdown(5)
        await w.shutdown(5)  # idempotent

    assert not w.record("key.create", "allowed")
    assert w.dropped_total == 1


async def test_a_writer_that_never_started_counts_its_queue_as_dropped_on_shutdown() -> None:
    w = writer()
    w.record("key.create", "allowed")
    w.record("key.create", "allowed")

    await w.shutdown(5)

    assert w.dropped_total == 2


async def test_a_shutdown_timeout_drops_what_is_left(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryAuditStore()
    store.gate = asyncio.Event()  # the store never answers
    w = writer(batch_size=1, flush_interval_s=0.01)
    async with asyncio.TaskGroup() as tasks:
        w.start(store, tasks)
        for _ in range(3):
            w.record("auth.deny", "denied")
        await store.writing.wait()  # the worker holds the first record inside the stuck write
        await w.shutdown(0.05)  # cancels the stuck worker: the group's exit returns at once

    assert w.dropped_total == 3  # the in-flight record and the two still queued
    assert "failed to flush audit records before shutdown" in caplog.text


class BrokenQueue(asyncio.Queue[AuditEvent | None]):
    """A queue whose reads fail: a bug outside the per-batch guard."""

    async def get(self) -> AuditEvent | None:
        raise RuntimeError("bug")


async def test_a_crashed_worker_is_logged_and_never_raised_into_its_task_group(
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = writer()
    w._queue = BrokenQueue()  # the writer's own queue, replaced to inject the failure
    async with asyncio.TaskGroup() as tasks:  # would raise ExceptionGroup if the worker raised
        w.start(MemoryAuditStore(), tasks)
    assert "audit writer stopped unexpectedly; later records are dropped" in caplog.text
    assert not w.record("key.create", "allowed")  # refused and counted from then on
    assert w.dropped_total == 1
