"""`Replayer`: drains the spill journal into the store, oldest batch first, once the store answers again.

One task at a time, started when something is spilled (or at start when a previous run left a
journal). A failed attempt waits (doubling from `retry_initial_s` up to `retry_max_s`) and retries the
same batch; replays are idempotent inserts, so a batch whose commit landed but whose answer was lost
is not stored twice. A batch leaves the journal only after the store has it. Rows each attempt persists
are reported to `written` (the writer's `ongoingai.trace.written_total`), like the writer's own batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from ongoingai.sink.base import TraceWriter, WriteResultView
from ongoingai.sink.diagnostics import PipelineCounters
from ongoingai.sink.spill import JournalEntry, SpillJournal
from ongoingai.traces import TraceRecord

logger = logging.getLogger(__name__)

SPILLABLE_CLASSES = frozenset({"connection", "timeout", "contention"})

DropFn = Callable[[Sequence[TraceRecord], str, str, str], None]
WrittenFn = Callable[[int], None]


class Replayer:
    def __init__(
        self,
        store: TraceWriter,
        journal: SpillJournal,
        counters: PipelineCounters,
        drop: DropFn,
        retry_initial_s: float,
        retry_max_s: float,
        *,
        written: WrittenFn,
    ) -> None:
        self._store = store
        self._written = written
        self._journal = journal
        self._counters = counters
        self._drop = drop
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._task: asyncio.Task[None] | None = None
        self._outage = False
        self._stopping = False

    def backlog(self) -> bool:
        """True while the journal holds records: new batches must queue up behind them."""
        return self._journal.depth > 0

    def on_spilled(self, operation: str, error_class: str, count: int) -> None:
        if not self._outage:
            self._outage = True
            logger.warning(
                "trace store unavailable; spilling trace records to journal",
                extra={"operation": operation, "error_class": error_class, "count": count},
            )
        self.wake()

    def wake(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="ongoingai-trace-replay")

    async def finish(self) -> None:
        """Shutdown: replay what the store takes now; stop at the next failure, the rest stays journalled."""
        self._stopping = True
        if self.backlog():
            self.wake()
        if self._task is not None:
            await self._task

    async def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        try:
            await self._replay()
        except Exception:  # the journal stays on disk; the next spill or start tries again
            logger.exception("spill journal replay failed")

    async def _replay(self) -> None:
        delay = self._retry_initial_s
        while True:
            entry = await asyncio.to_thread(self._journal.peek)
            self._count_unreadable()
            if entry is None:
                self._recovered()
                return
            result = await self._store.write_batch(entry.records, idempotent=True)
            if not await self._settle(entry, result):
                if self._stopping:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)
                continue
            delay = self._retry_initial_s

    async def _settle(self, entry: JournalEntry, result: WriteResultView) -> bool:
        """Count the attempt; True (and the batch leaves the journal) unless the store is still away."""
        if result.written:
            # Rows this attempt persisted, even if the batch stays journalled: the idempotent retry
            # skips them, so they would otherwise never be counted.
            self._written(result.written)
        for failure in result.failures:
            self._counters.failures_by_class[failure.error_class] += len(failure.records)
        if any(f.error_class in SPILLABLE_CLASSES for f in result.failures):
            return False
        rejected = 0
        for failure in result.failures:
            rejected += len(failure.records)
            self._drop(failure.records, "replay", failure.error_class, failure.error_kind)
        await asyncio.to_thread(self._journal.commit, entry)
        self._counters.replayed_total += len(entry.records) - rejected
        return True

    def _count_unreadable(self) -> None:
        lost = self._journal.take_unreadable()
        if lost:
            self._drop([], "replay", "unknown", "UnreadableJournalFrame")
            self._counters.write_dropped_total += lost

    def _recovered(self) -> None:
        if self._outage:
            self._outage = False
            logger.info(
                "trace store answers again; spilled trace records replayed",
                extra={"replayed_total": self._counters.replayed_total},
            )
