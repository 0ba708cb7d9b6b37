"""Giving up on a store write that hangs while the queue fills.

A store that stops answering without refusing (a network path that drops packets, a server stuck on a
lock) keeps the writer's batch in flight until the driver's own timeout (30 s for a statement on
Postgres). At a high request rate the bounded queue fills long before that, and every later trace is
dropped at `enqueue`. So the writer watches its write: once the store has answered none of the writer's
writes (several are in flight) for at least `after_s` and the queue is at least half full, the writer
stops waiting and reports the batch as a `timeout` failure, which it journals like any other outage
(later batches follow it into the journal, in order). A store that is slow but still answering (SQLite
on a CPU-starved machine) is waited for: journalling its batches would only add the replay's work.
The write is left to end on its own rather than cancelled: a driver may hold a cancellation until its
socket times out (closing a connection politely over a dead path), which is the very wait this avoids.
If that write commits after all, the replay's idempotent insert stores nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
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
