"""Trace data: the record every captured exchange becomes. Data only, imported by capture, sink, store."""

from ongoingai.traces.record import TraceRecord

__all__ = ["TraceRecord"]
