"""Giving up on a store write that hangs while the queue fills.

A store that stops answering without refusing (a network path that drops packets, a server stuck on a
lock) keeps the writer's batch in flight until the driver's own timeout (30 s for a statement on
Postgres). At a high request rate the bounded queue fills long before that, and every later trace is
dropped at `enqueue`. So the writer watches its write: once it has waited at least `after_s` and the
queue is at least half full, the write is cancelled and the batch reported as a `timeout` failure, which
the writer journals like any other outage (later batches follow it into the journal, in order). If the
cancelled write committed after all, the replay's idempotent insert stores nothing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ongoingai.traces import TraceRecord

STALL_AFTER_S = 1.0
CHECK_EVERY_S = 0.1


@dataclass(frozen=True, slots=True)
class StalledWrite:
    """A `WriteFailureView` for a write given up on."""

    records: Sequence[TraceRecord]
    operation: str = "write_batch"
    error_class: str = "timeout"
    error_kind: str = "WriteStalled"


@dataclass(frozen=True, slots=True)
class StalledResult:
    """A `WriteResultView`: nothing written, the whole batch failed."""

    failures: tuple[StalledWrite, ...]
    written: int = 0


class StallWatch:
    """Expires `deadline` once the write has taken `after_s` and `queue_filling()` holds; checks every
    `CHECK_EVERY_S` on the loop's timer, so a write that answers costs one timer handle."""

    def __init__(
        self,
        deadline: asyncio.Timeout,
        queue_filling: Callable[[], bool],
        after_s: float = STALL_AFTER_S,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._deadline = deadline
        self._queue_filling = queue_filling
        self._give_up_at = self._loop.time() + after_s
        self._handle = self._loop.call_later(CHECK_EVERY_S, self._check)

    def _check(self) -> None:
        now = self._loop.time()
        if now >= self._give_up_at and self._queue_filling():
            self._deadline.reschedule(now)  # expires at once: the awaited write is cancelled
            return
        self._handle = self._loop.call_later(CHECK_EVERY_S, self._check)

    def cancel(self) -> None:
        self._handle.cancel()
