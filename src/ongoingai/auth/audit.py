"""Audit records (DEVIATIONS.md "Audit records") and their writer: a bounded queue and one worker that
inserts batches into `audit_events`, never on a request's critical path.

`record()` builds the event and queues it without waiting; a full queue drops it and counts it, as does
a batch the store refused, both in `dropped_total` (`audit_dropped_total` in the trace-pipeline
diagnostics). Details carry identifiers and reasons only, never a token, hash or matched value.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from ongoingai.store.writes import DRIVER_ERRORS

logger = logging.getLogger(__name__)

ACTIONS = (
    "key.create",
    "key.rotate",
    "key.revoke",
    "auth.deny",
    "pii.redact",
    "pii.block",
    "pii.deny_uncertain",
    "pii.observe",
    "limit.deny",
)
OUTCOMES = ("allowed", "denied", "redacted", "observed")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def new_audit_id() -> str:
    return os.urandom(16).hex()


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: str
    created_at: datetime
    action: str
    outcome: str
    reason: str = ""
    org_id: str = ""
    workspace_id: str = ""
    actor_key_id: str = ""
    trace_id: str = ""
    correlation_id: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


class AuditStore(Protocol):
    """Where audit batches go (`SqlAuditLog`)."""

    async def write_audit_events(self, events: Sequence[AuditEvent]) -> None:
        """Insert the batch in one transaction; raise on failure (the writer counts it dropped)."""


class AuditWriter:
    """Bounded, batched, fire-and-forget. `start(store)` inside the loop; `shutdown(timeout)` at the end."""

    def __init__(
        self,
        *,
        capacity: int = 4096,
        batch_size: int = 256,
        flush_interval_s: float = 0.2,
        clock: Callable[[], datetime] = _utcnow,
        new_id: Callable[[], str] = new_audit_id,
    ) -> None:
        self.capacity = capacity
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.dropped_total = 0
        self.written_total = 0
        self._clock = clock
        self._new_id = new_id
        self._queue: asyncio.Queue[AuditEvent | None] = asyncio.Queue()
        self._store: AuditStore | None = None
        self._task: asyncio.Task[None] | None = None
        self._inflight: list[AuditEvent] = []
        self._closing = False

    def record(self, action: str, outcome: str, **fields: Any) -> bool:
        """Queue an event for `action`/`outcome`; False when it was dropped (and counted)."""
        event = AuditEvent(
            id=self._new_id(), created_at=self._clock(), action=action, outcome=outcome, **fields
        )
        return self.enqueue(event)

    def enqueue(self, event: AuditEvent) -> bool:
        if self._closing or self._queue.qsize() >= self.capacity:
            self.dropped_total += 1
            return False
        self._queue.put_nowait(event)
        return True

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def start(self, store: AuditStore, tasks: asyncio.TaskGroup) -> None:
        """Start the worker in the owner's task group (STYLE.md: no bare `asyncio.create_task`).

        `shutdown()` ends it (cancelling it past its timeout); the group's exit then awaits it.
        """
        self._store = store
        self._task = tasks.create_task(self._run(store), name="ongoingai-audit-writer")

    async def _run(self, store: AuditStore) -> None:
        try:
            await self._work(store)
        except Exception:  # never raised into the task group: that would cancel the task owning it
            logger.exception("audit writer stopped unexpectedly; later records are dropped")
            self._closing = True
            self.dropped_total += len(self._inflight) + len(self._drain())

    async def _work(self, store: AuditStore) -> None:
        while True:
            batch, stop = await self._collect()
            if batch:
                self._inflight = batch
                await self._write(store, batch)
                self._inflight = []
                for _ in batch:
                    self._queue.task_done()
            if stop:
                return

    async def _collect(self) -> tuple[list[AuditEvent], bool]:
        first = await self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.flush_interval_s
        while len(batch) < self.batch_size:
            try:
                item = await asyncio.wait_for(self._queue.get(), max(deadline - loop.time(), 0))
            except TimeoutError:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    async def _write(self, store: AuditStore, batch: list[AuditEvent]) -> None:
        try:
            await store.write_audit_events(batch)
        except DRIVER_ERRORS as exc:
            self._drop(batch, exc)
            return
        except Exception as exc:  # the worker must survive anything: the batch is counted lost
            logger.exception("audit writer failed on a batch")
            self._drop(batch, exc)
            return
        self.written_total += len(batch)

    def _drop(self, batch: list[AuditEvent], exc: BaseException) -> None:
        self.dropped_total += len(batch)
        logger.error(
            "audit persistence failed; dropped audit records",
            extra={"failed_count": len(batch), "error_kind": type(exc).__name__},
        )

    async def drain(self) -> None:
        """Wait until every record queued so far was written or dropped (tests, diagnostics)."""
        await self._queue.join()

    async def shutdown(self, timeout: float) -> None:
        """Refuse new events and write what is queued, waiting at most `timeout` s; the rest is dropped."""
        if self._closing:
            return
        self._closing = True
        self._queue.put_nowait(None)
        if self._task is None:
            self.dropped_total += self._queue.qsize() - 1
            return
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._task)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            left = len(self._inflight) + len(self._drain())
            self.dropped_total += left
            logger.error("failed to flush audit records before shutdown", extra={"dropped": left})

    def _drain(self) -> list[AuditEvent]:
        out: list[AuditEvent] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                out.append(item)
        return out
