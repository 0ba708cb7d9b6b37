"""The read side over the trace store, shared by `api/` and `cli/`: list, detail, count, cursors, lineage."""

from ongoingai.query.cursor import Cursor, CursorError, decode_cursor, encode_cursor, format_rfc3339
from ongoingai.query.lineage import LineageView, lineage_view
from ongoingai.query.traces import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    TenantScope,
    TraceFilter,
    TracePage,
    count_traces,
    get_trace,
    list_traces,
)

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Cursor",
    "CursorError",
    "LineageView",
    "TenantScope",
    "TraceFilter",
    "TracePage",
    "count_traces",
    "decode_cursor",
    "encode_cursor",
    "format_rfc3339",
    "get_trace",
    "lineage_view",
    "list_traces",
]
