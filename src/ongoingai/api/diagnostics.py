"""`GET /api/diagnostics/trace-pipeline` (http-api.md §4): the writer's snapshot, process-local, unscoped."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ongoingai.api.context import context_of
from ongoingai.api.render import error_response, json_response

SCHEMA_VERSION = "trace-pipeline-diagnostics.v1"


async def get_trace_pipeline(request: Request) -> Response:
    ctx = context_of(request)
    if ctx.sink is None:
        return error_response(503, "trace pipeline diagnostics unavailable")
    # DEVIATIONS.md "Audit records": the audit writer's drops are reported beside the trace pipeline's.
    audit = getattr(request.app.state, "audit_writer", None)
    dropped = audit.dropped_total if audit is not None else 0
    diagnostics = {**ctx.sink.diagnostics(), "audit_dropped_total": dropped}
    return json_response(
        {"schema_version": SCHEMA_VERSION, "generated_at": ctx.clock(), "diagnostics": diagnostics}
    )
