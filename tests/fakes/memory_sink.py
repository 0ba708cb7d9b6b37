"""`MemorySink`: a TraceSink that keeps records in a list (thread-safe enough for a list append)."""

from __future__ import annotations

import threading
from typing import Any

from ongoingai.traces import TraceRecord


class MemorySink:
    def __init__(self, capacity: int | None = None) -> None:
        self.records: list[TraceRecord] = []
        self.dropped = 0
        self._capacity = capacity
        self._arrived = threading.Condition()

    def enqueue(self, record: TraceRecord) -> bool:
        with self._arrived:
            if self._capacity is not None and len(self.records) >= self._capacity:
                self.dropped += 1
                return False
            self.records.append(record)
            self._arrived.notify_all()
        return True

    async def shutdown(self, timeout: float) -> None:
        return None

    def diagnostics(self) -> dict[str, Any]:
        return {"queue_depth": 0, "enqueue_accepted_total": len(self.records)}

    def wait_for(self, count: int, timeout: float = 5.0) -> list[TraceRecord]:
        """Block until `count` records arrived (the gateway enqueues after the client got its bytes)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.records) >= count, timeout):
                raise AssertionError(f"expected {count} traces, got {len(self.records)}")
            return list(self.records)
