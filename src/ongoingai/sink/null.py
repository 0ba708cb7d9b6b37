"""Temporary sink used by `serve` until the batch writer lands; counts what it discards."""

from __future__ import annotations

from ongoingai.sink.base import SinkDiagnostics
from ongoingai.traces import TraceRecord


class NullSink:
    def __init__(self) -> None:
        self.discarded = 0

    def enqueue(self, record: TraceRecord) -> bool:
        self.discarded += 1
        return True

    async def shutdown(self, timeout: float) -> None:
        return None

    def diagnostics(self) -> SinkDiagnostics:
        return {"discarded_total": self.discarded}
