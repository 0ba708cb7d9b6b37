"""`TraceSink`: the one-method boundary the proxy writes through (traces-and-lineage.md §4)."""

from __future__ import annotations

from typing import Any, Protocol

from ongoingai.traces import TraceRecord

SinkDiagnostics = dict[str, Any]


class TraceSink(Protocol):
    """Where finished traces go. Implementations must never block the caller."""

    def enqueue(self, record: TraceRecord) -> bool:
        """Queue a record without waiting; False means it was dropped and counted."""

    async def shutdown(self, timeout: float) -> None:
        """Refuse new records and flush what was accepted, waiting at most `timeout` seconds."""

    def diagnostics(self) -> SinkDiagnostics:
        """A snapshot of queue depth and counters (http-api.md §4 field names)."""
