"""The write boundary between capture and storage: capture calls `TraceSink.enqueue`, never a store."""

from ongoingai.sink.base import SinkDiagnostics, TraceSink

__all__ = ["SinkDiagnostics", "TraceSink"]
