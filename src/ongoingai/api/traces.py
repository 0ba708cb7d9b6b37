"""`GET /api/traces` and `GET /api/traces/{id}`: parse → query → render (http-api.md §5–6)."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response

from ongoingai.api.context import context_of, read_connection, tenant_scope_of
from ongoingai.api.params import parse_trace_filter
from ongoingai.api.render import error_response, json_response, render_detail, render_page
from ongoingai.query import get_trace, list_traces

logger = logging.getLogger(__name__)

STORE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)
NO_STORE = "trace store is not configured"


async def get_traces(request: Request) -> Response:
    store = context_of(request).store
    trace_filter = parse_trace_filter(request.query_params, tenant_scope_of(request))
    if store is None:
        return error_response(503, NO_STORE)
    try:
        async with read_connection(request, store) as conn:
            page = await list_traces(conn, trace_filter)
    except STORE_ERRORS:
        logger.exception("failed to query traces")
        return error_response(500, "failed to query traces")
    return json_response(render_page(page))


async def get_trace_detail(request: Request) -> Response:
    store = context_of(request).store
    if store is None:
        return error_response(503, NO_STORE)
    try:
        async with read_connection(request, store) as conn:
            record = await get_trace(conn, request.path_params["trace_id"], tenant_scope_of(request))
    except STORE_ERRORS:
        logger.exception("failed to read trace")
        return error_response(500, "failed to read trace")
    if record is None:
        return error_response(404, "trace not found")
    return json_response(render_detail(record))
