"""`BatchWriter`: the TraceSink behind the proxy. Bounded queue, one worker, batches, spill and replay.

traces-and-lineage.md §4 as changed by DEVIATIONS.md: `enqueue` never blocks (full → False, counted);
the worker writes batches of up to `batch_size`, each flushed at most `flush_interval_ms` after its
first record arrived. When the store does not answer (connection, timeout, contention) the batch goes
to the spill journal and, while the journal holds anything, so does every later batch, so order is
kept; a replay task drains the journal in order once the store answers again (and at start, for what
a previous run left). A trace is dropped (`write_dropped_total`) only when the journal is full or the
store rejects the record itself (constraint, unknown), which a retry would not fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ongoingai.config import Settings
from ongoingai.observability.writer import WriterTelemetry
from ongoingai.sink.base import SinkDiagnostics, TraceWriter, WriteResultView
from ongoingai.sink.diagnostics import PipelineCounters
from ongoingai.sink.replay import Replayer
from ongoingai.sink.spill import SpillJournal
from ongoingai.sink.stall import CHECK_EVERY_S, STALL_AFTER_S, StalledResult, StalledWrite
from ongoingai.traces import TraceRecord

logger = logging.getLogger(__name__)

# The store's transient classes (store/errors.py): the store is not answering, the record is fine.
SPILLABLE_CLASSES = frozenset({"connection", "timeout", "contention"})
# During an outage, how many batches' worth of queued records one journal append (one fsync) may take.
SPILL_COALESCE_BATCHES = 16
# Batches being written at once, at least. More than one lets the next batches be gathered and converted
# while the store works, and lets the store commit the batches waiting together: SQLite's inserter thread
# in one transaction, Postgres's inserter in its lanes (store/writes.py `PostgresInserter`), whose
# transactions then also sum their rollups once. bench/writer_bench.py (2 vCPU), one batch per
# transaction: 1 → SQLite ~7.0k/s, Postgres ~5.8k/s; 4 → 9.8k / 9.8k. Postgres group commit with 8 in
# flight and 2 lanes, against one batch per transaction with 4: ~+7 % traces/s and −12 % server and writer
# CPU per trace (A/B, 3 rounds). `from_settings` allows up to one queue's worth (`_in_flight`).
WRITES_IN_FLIGHT = 8


def _in_flight(queue_capacity: int, batch_size: int) -> int:
    """Batches in flight: up to one queue's worth of records (16 with the defaults), at least 8.

    The more rows a SQLite transaction takes, the fewer rollup upserts per trace (each transaction sums
    its rows per tenant, provider, model, credential and hour first). bench/writer_bench.py, 60k realistic
    traces on SQLite, alternating: 8 in flight (~500 rows per transaction) 15,252 / 16,637 traces/s, 16
    (~1,000 rows) 17,526 / 18,653. Records in flight are out of the queue, so this keeps what the writer
    holds within twice `queue_capacity`."""
    return max(WRITES_IN_FLIGHT, queue_capacity // max(batch_size, 1))


def _utcnow() -> datetime:
    return datetime.now(UTC)


def default_spill_path(settings: Settings) -> Path:
    """`tracing.spill.path`, else `<dir of storage.path or ./data>/spill` (DEVIATIONS.md)."""
    if settings.tracing.spill.path:
        return Path(settings.tracing.spill.path)
    if settings.storage.driver == "sqlite" and settings.storage.path:
        return Path(settings.storage.path).parent / "spill"
    return Path("data") / "spill"


class BatchWriter:
    """Implements `TraceSink`. Call `start()` inside the running loop and `shutdown(timeout)` at the end."""

    def __init__(
        self,
        store: TraceWriter | None,
        *,
        store_driver: str,
        journal: SpillJournal | None = None,
        queue_capacity: int = 1024,
        batch_size: int = 64,
        flush_interval_ms: int = 200,
        retry_initial_s: float = 0.05,
        retry_max_s: float = 2.0,
        clock: Callable[[], datetime] = _utcnow,
        stall_after_s: float = STALL_AFTER_S,
        writes_in_flight: int = WRITES_IN_FLIGHT,
    ) -> None:
        self.capacity = queue_capacity if queue_capacity > 0 else 256
        self.batch_size = max(batch_size, 1)
        self.writes_in_flight = max(writes_in_flight, 1)
        self.flush_interval_s = max(flush_interval_ms, 1) / 1000
        self.store_driver = store_driver
        self.counters = PipelineCounters()
        self.telemetry = WriterTelemetry()  # off until the gateway hands over its own (Telemetry.watch)
        self._store = store
        self._journal = journal
        self._clock = clock
        self._queue: asyncio.Queue[TraceRecord | None] = asyncio.Queue(maxsize=self.capacity + 1)
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._gathering: list[TraceRecord] | None = None  # the batch `_collect` is filling
        self._writing: dict[asyncio.Task[None], list[TraceRecord]] = {}  # batches handed to the store
        self._retry = (retry_initial_s, retry_max_s)
        self._replayer: Replayer | None = None
        self._stall_after_s = stall_after_s
        self._stalled_writes: set[asyncio.Task[WriteResultView]] = set()
        self._last_answer_at = 0.0  # loop time the store last answered one of our writes

    @classmethod
    def from_settings(cls, settings: Settings, store: TraceWriter | None = None) -> BatchWriter:
        """The writer `serve` runs: sizes from `tracing.writer.*`, journal from `tracing.spill.*`.

        The store may instead be given to `start()`; records enqueued before then wait in the queue.
        """
        w = settings.tracing.writer
        journal = SpillJournal(default_spill_path(settings), settings.tracing.spill.max_bytes)
        in_flight = _in_flight(w.queue_capacity, w.batch_size)
        if settings.storage.driver == "postgres":
            # Each busy Postgres lane holds a pooled connection, and only a batch makes a lane busy: with
            # at most half the pool in flight, the other half stays for API reads.
            in_flight = min(in_flight, max(1, settings.storage.pool.max_size // 2))
        return cls(
            store,
            store_driver=settings.storage.driver,
            journal=journal,
            queue_capacity=w.queue_capacity,
            batch_size=w.batch_size,
            flush_interval_ms=w.flush_interval_ms,
            writes_in_flight=in_flight,
        )

    async def start(self, store: TraceWriter | None = None) -> None:
        """Open the journal (replaying what a previous run left) and start the worker.

        Raises:
            ValueError: no store was given here or to the constructor.
        """
        self._store = store or self._store
        if self._store is None:
            raise ValueError("BatchWriter.start needs a trace store")
        if self._journal is not None:
            self._replayer = Replayer(
                self._store,
                self._journal,
                self.counters,
                self._drop,
                *self._retry,
                written=lambda rows: self.telemetry.written(rows),  # replayed rows count as written
            )
            await asyncio.to_thread(self._journal.open)
            if self._journal.depth and self._replayer is not None:
                logger.info(
                    "replaying spilled traces from a previous run", extra={"count": self._journal.depth}
                )
                self._replayer.wake()
        self._task = asyncio.create_task(self._run(), name="ongoingai-trace-writer")

    def enqueue(self, record: TraceRecord) -> bool:
        if self._closing or self._queue.qsize() >= self.capacity:
            self.counters.enqueue_dropped_total += 1
            self.counters.last_enqueue_drop_at = self._clock()
            self.counters.high_watermark = self.capacity
            return False
        self._queue.put_nowait(record)
        self.counters.enqueue_accepted_total += 1
        self.counters.high_watermark = max(self.counters.high_watermark, self._queue.qsize())
        return True

    def diagnostics(self) -> SinkDiagnostics:
        journal = self._journal
        return self.counters.snapshot(
            capacity=self.capacity,
            depth=min(self._queue.qsize(), self.capacity),
            journal_depth=journal.depth if journal else 0,
            journal_bytes=journal.size_bytes if journal else 0,
            store_driver=self.store_driver,
        )

    async def _run(self) -> None:
        try:
            while True:
                batch, stop = await self._collect()
                self._gathering = None
                if batch:
                    task = asyncio.create_task(self._write(batch), name="ongoingai-trace-batch")
                    self._writing[task] = batch
                    task.add_done_callback(self._writing.pop)
                    # Behind a journal backlog, one at a time: each journal append then takes all
                    # that queued meanwhile (one fsync), and the order of the journal is kept.
                    if len(self._writing) >= self.writes_in_flight or self._backlogged():
                        await asyncio.wait(list(self._writing), return_when=asyncio.FIRST_COMPLETED)
                if stop:
                    if self._writing:
                        await asyncio.wait(list(self._writing))
                    return
        except asyncio.CancelledError:
            # Shutdown timed out: the batches still being written are journalled by `_abandon`.
            for task in list(self._writing):
                task.cancel()
            raise

    async def _write(self, batch: list[TraceRecord]) -> None:
        try:
            with self.telemetry.batch(len(batch)):  # root span `gateway.trace.write`, flush metrics
                await self._process(batch)
        except Exception as exc:  # the worker must survive anything (cancellation passes); counted lost
            self._drop(batch, "write_batch", "unknown", type(exc).__name__)
            logger.exception("trace writer failed on a batch")

    async def _collect(self) -> tuple[list[TraceRecord], bool]:
        """Wait for a first record, then gather up to `batch_size` until the flush deadline."""
        if self._closing and self._queue.empty():
            return [], True
        first = await self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        self._gathering = batch  # journalled, not lost, if shutdown times out while we gather
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.flush_interval_s
        while len(batch) < self.batch_size:
            if self._queue.empty() and self._closing:
                return batch, True
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                try:
                    item = await asyncio.wait_for(self._queue.get(), deadline - loop.time())
                except TimeoutError:
                    break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _backlogged(self) -> bool:
        return self._replayer is not None and self._replayer.backlog()

    async def _process(self, batch: list[TraceRecord]) -> None:
        if self._backlogged():
            # Keep order behind the backlog: journal this batch, and with it whatever else is queued
            # already, so one fsync covers them all. One fsync per `batch_size` records is what fills the
            # queue during an outage at a high request rate.
            batch.extend(self._take_queued(self.batch_size * SPILL_COALESCE_BATCHES))
            await self._spill(batch, "write_batch", "connection")
            return
        if self._store is None:  # start() refuses to run without one
            raise RuntimeError("BatchWriter has no store")
        result = await self._write_unless_stalled(self._store, batch)
        await self._account(result, len(batch))

    async def _write_unless_stalled(self, store: TraceWriter, batch: list[TraceRecord]) -> WriteResultView:
        """The store's answer, or a `timeout` failure when it hangs while the queue fills (sink/stall.py)."""
        loop = asyncio.get_running_loop()
        write = loop.create_task(store.write_batch(batch), name="ongoingai-trace-write")
        started = loop.time()
        try:
            while True:
                done, _ = await asyncio.wait({write}, timeout=CHECK_EVERY_S)
                if done:
                    self._last_answer_at = loop.time()
                    return write.result()
                # Stalled: no write of ours has been answered for `stall_after_s` (a store that is slow
                # but answering, e.g. SQLite on a CPU-starved machine, is waited for) and the queue fills.
                quiet_since = max(started, self._last_answer_at)
                if loop.time() - quiet_since >= self._stall_after_s and self._queue_filling():
                    break
        except asyncio.CancelledError:
            write.cancel()
            raise
        # Left to end on its own, and cancelled at shutdown if it has not by then.
        self._stalled_writes.add(write)
        write.add_done_callback(self._stalled_writes.discard)
        logger.warning(
            "trace store write stalled while the queue filled; journalling the batch",
            extra={"batch_size": len(batch), "queue_depth": self._queue.qsize()},
        )
        return StalledResult((StalledWrite(tuple(batch)),))

    def _queue_filling(self) -> bool:
        return self._queue.qsize() * 2 >= self.capacity

    async def _account(self, result: WriteResultView, batch_size: int) -> None:
        self.telemetry.written(result.written, [f.error_class for f in result.failures])
        for failure in result.failures:
            self.counters.failures_by_class[failure.error_class] += len(failure.records)
            if failure.error_class in SPILLABLE_CLASSES and self._journal is not None:
                await self._spill(list(failure.records), failure.operation, failure.error_class)
            else:
                self._drop(
                    failure.records, failure.operation, failure.error_class, failure.error_kind, batch_size
                )

    async def _spill(self, records: list[TraceRecord], operation: str, error_class: str) -> bool:
        journal = self._journal
        if journal is None:
            self._drop(records, operation, error_class, "NoSpillJournal")
            return False
        try:
            stored = await asyncio.to_thread(journal.append, records)
        except (OSError, TypeError, ValueError) as exc:
            logger.exception("spill journal append failed")
            self._drop(records, "spill_journal", error_class, type(exc).__name__)
            return False
        if not stored:
            self._drop(records, "spill_journal", error_class, "SpillJournalFull")
            return False
        self.counters.spilled_total += len(records)
        if self._replayer is not None:
            self._replayer.on_spilled(operation, error_class, len(records))
        return True

    def _drop(
        self,
        records: Sequence[TraceRecord],
        operation: str,
        error_class: str,
        error_kind: str,
        batch_size: int | None = None,
    ) -> None:
        self.counters.write_dropped_total += len(records)
        self.telemetry.dropped(len(records), operation, error_class, self.store_driver)
        self.counters.last_write_drop_at = self._clock()
        self.counters.last_write_drop_operation = operation
        logger.error(
            "trace persistence failed; dropped trace records",
            extra={
                "operation": operation,
                "batch_size": batch_size if batch_size is not None else len(records),
                "failed_count": len(records),
                "error_class": error_class,
                "error_kind": error_kind,
            },
        )

    async def shutdown(self, timeout: float) -> None:
        """Refuse new records, drain the queue within `timeout` s; what is left goes to the journal."""
        if self._closing:
            return
        self._closing = True
        started = time.monotonic()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)
        try:
            async with asyncio.timeout(timeout):
                if self._task is not None:
                    await asyncio.shield(self._task)
                if self._replayer is not None:
                    await self._replayer.finish()
        except TimeoutError:
            await self._abandon(timeout)
            self._cancel_stalled_writes()
            return
        self._cancel_stalled_writes()
        logger.info(
            "flushed pending traces before shutdown",
            extra={"duration_ms": int((time.monotonic() - started) * 1000)},
        )

    def _cancel_stalled_writes(self) -> None:
        """Their batches are in the journal already; a late commit would only be skipped by the replay."""
        for write in list(self._stalled_writes):
            write.cancel()

    async def _abandon(self, timeout: float) -> None:
        # Taken before cancelling: a cancelled write leaves `_writing` as soon as it ends. A batch whose
        # write committed after all is skipped by the replay's idempotent insert.
        writing = [record for batch in list(self._writing.values()) for record in batch]
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._replayer is not None:
            await self._replayer.cancel()
        left = [*writing, *(self._gathering or []), *self._drain_queue()]
        self._gathering = None
        if left:
            await self._spill(left, "shutdown", "timeout")
        logger.error(
            "failed to flush pending traces before shutdown",
            extra={"error": "timeout", "timeout": timeout, "journalled": len(left)},
        )

    def _take_queued(self, most: int) -> list[TraceRecord]:
        """Up to `most` records already queued, without waiting. Nothing while closing: the queue then
        ends with the stop sentinel, which `_collect` must be the one to see."""
        return [] if self._closing else self._drain_queue(most)

    def _drain_queue(self, most: int | None = None) -> list[TraceRecord]:
        """Queued records (up to `most`), without waiting; a stop sentinel met on the way is discarded."""
        out: list[TraceRecord] = []
        while (most is None or len(out) < most) and not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                out.append(item)
        return out
