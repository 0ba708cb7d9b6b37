"""The write boundary between capture and storage: capture calls `TraceSink.enqueue`, never a store.

`BatchWriter` is the sink `serve` runs: bounded queue → batches → store, with the spill journal
(`SpillJournal`) for outages.
"""

from ongoingai.sink.base import SinkDiagnostics, TraceSink, TraceWriter
from ongoingai.sink.batch_writer import BatchWriter, default_spill_path
from ongoingai.sink.spill import SpillJournal

__all__ = ["BatchWriter", "SinkDiagnostics", "SpillJournal", "TraceSink", "TraceWriter", "default_spill_path"]
