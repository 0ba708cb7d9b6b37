"""Hand-written `TraceWriter` fakes for writer tests: a memory store that can be told to fail or to wait."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ongoingai.store import WriteFailure, WriteResult
from ongoingai.store.errors import ErrorClass
from ongoingai.traces import TraceRecord


class MemoryTraceStore:
    """Keeps written records in order; `fail_with` makes writes fail, `hold()` parks them till `release()`."""

    def __init__(self) -> None:
        self.records: list[TraceRecord] = []
        self.calls: list[tuple[int, bool]] = []  # (batch size, idempotent) per write_batch call
        self.failing: ErrorClass | None = None
        self.reject_ids: set[str] = set()  # these records fail with `constraint`, the rest are written
        self._gate = asyncio.Event()
        self._gate.set()
        self._changed = asyncio.Condition()

    def fail_with(self, error_class: ErrorClass | None) -> None:
        self.failing = error_class

    def hold(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    async def write_batch(self, records: Sequence[TraceRecord], *, idempotent: bool = False) -> WriteResult:
        self.calls.append((len(records), idempotent))
        await self._notify()
        await self._gate.wait()
        operation = "write_trace" if len(records) == 1 else "write_batch"
        if self.failing is not None:
            result = WriteResult(0, (WriteFailure(tuple(records), operation, self.failing, "FakeError"),))
            await self._notify()
            return result
        stored = {r.id for r in self.records}
        bad = [r for r in records if r.id in self.reject_ids]
        good = [r for r in records if r.id not in self.reject_ids and not (idempotent and r.id in stored)]
        self.records.extend(good)
        await self._notify()
        failures = (
            (WriteFailure(tuple(bad), "write_batch_fallback", "constraint", "FakeError"),) if bad else ()
        )
        return WriteResult(len(records) - len(bad), failures)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_count(self, count: int, timeout: float = 10.0) -> list[TraceRecord]:
        """Wait until `count` records are stored (a bound on waiting, not a timing assertion)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.records) >= count)
        return list(self.records)

    async def wait_for_calls(self, count: int, timeout: float = 10.0) -> None:
        """Wait until `write_batch` has been answered `count` times (failed or not)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.calls) >= count)


class FailingStore(MemoryTraceStore):
    """Every write fails with one error class until `fail_with(None)`."""

    def __init__(self, error_class: ErrorClass = "connection") -> None:
        super().__init__()
        self.failing = error_class
