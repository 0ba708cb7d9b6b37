"""`TraceSink`: the one-method boundary the proxy writes through (traces-and-lineage.md §4).

`TraceWriter` is what a sink writes into; it is structural so that `store.SqlTraceStore` satisfies it
without the sink importing the store (the two sit side by side in the import layers).
"""

from __future__ import annotations

from collections.abc import Sequence
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


class WriteFailureView(Protocol):
    """Records a write did not store, the operation, and the error class (`connection`, `timeout`, …)."""

    @property
    def records(self) -> Sequence[TraceRecord]: ...

    @property
    def operation(self) -> str: ...

    @property
    def error_class(self) -> str: ...

    @property
    def error_kind(self) -> str: ...


class WriteResultView(Protocol):
    @property
    def written(self) -> int: ...

    @property
    def failures(self) -> Sequence[WriteFailureView]: ...


class TraceWriter(Protocol):
    """A store the writer flushes batches into."""

    async def write_batch(
        self, records: Sequence[TraceRecord], *, idempotent: bool = False
    ) -> WriteResultView:
        """Write records; driver failures come back in the result, classified, never raised."""
