"""`GET /api/traces/{id}/replay` and `POST /api/traces/{id}/fork` (http-api.md §7): parse → query → render.

Both only read: replay reconstructs history, fork computes the headers of a new branch. The fork body is
optional JSON `{"checkpoint_id","thread_id","run_id"}` of at most 16 KiB.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ongoingai.api.context import context_of, read_connection, tenant_scope_of
from ongoingai.api.params import ParamDoc, parse_int
from ongoingai.api.render import error_response, json_response, render_detail, render_time
from ongoingai.api.traces import NO_STORE, STORE_ERRORS
from ongoingai.http.errors import BadRequest, PayloadTooLarge
from ongoingai.query.fork import ForkRequest, fork
from ongoingai.query.lineage import lineage_view
from ongoingai.query.replay import (
    DEFAULT_REPLAY_LIMIT,
    MAX_REPLAY_LIMIT,
    HistoryUnavailable,
    LineageError,
    Replay,
    ReplayRequest,
    replay,
)
from ongoingai.query.traces import get_trace
from ongoingai.traces import TraceRecord

logger = logging.getLogger(__name__)

MAX_FORK_BODY_BYTES = 16 * 1024
FORK_FIELDS = ("checkpoint_id", "thread_id", "run_id")
INVALID_FORK_BODY = "invalid fork request body"

REPLAY_PARAMS: tuple[ParamDoc, ...] = (
    ParamDoc("checkpoint_id", "string", "replay up to this checkpoint (default: the trace itself)"),
    ParamDoc("thread_id", "string", "history thread (default: the trace's lineage thread)"),
    ParamDoc("run_id", "string", "history run (default: the trace's lineage run)"),
    ParamDoc(
        "limit", "integer", f"history size 0-{MAX_REPLAY_LIMIT}; 0 or absent means {DEFAULT_REPLAY_LIMIT}"
    ),
)


def render_checkpoint(record: TraceRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "timestamp": render_time(record.timestamp),
        "provider": record.provider,
        "model": record.model,
        "request_method": record.request_method,
        "request_path": record.request_path,
        "response_status": record.response_status,
        "total_tokens": record.total_tokens,
        "latency_ms": record.latency_ms,
        "created_at": render_time(record.created_at),
        "lineage": lineage_view(record).as_dict(),
    }


def render_replay(result: Replay) -> dict[str, Any]:
    return {
        "source_trace_id": result.source_trace_id,
        "target_checkpoint_id": result.target_checkpoint_id,
        "lineage": result.lineage.as_dict(),
        "checkpoints": [render_checkpoint(r) for r in result.checkpoints],
        "truncated": result.truncated,
        "target_trace": render_detail(result.target_trace),
    }


def parse_replay_request(request: Request) -> ReplayRequest:
    query = request.query_params
    limit = parse_int(query, "limit", 0, MAX_REPLAY_LIMIT) or DEFAULT_REPLAY_LIMIT
    text = {name: query.get(name, "").strip() for name in FORK_FIELDS}
    return ReplayRequest(text["checkpoint_id"], text["thread_id"], text["run_id"], limit)


async def get_replay(request: Request) -> Response:
    store = context_of(request).store
    replay_request = parse_replay_request(request)
    if store is None:
        return error_response(503, NO_STORE)
    try:
        async with read_connection(request, store) as conn:
            result = await replay(
                conn, request.path_params["trace_id"], replay_request, tenant_scope_of(request)
            )
    except LineageError as exc:
        return error_response(exc.status, str(exc))
    except (HistoryUnavailable, *STORE_ERRORS):
        logger.exception("failed to query replay checkpoints")
        return error_response(500, "failed to query replay checkpoints")
    return json_response(render_replay(result))


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, or `PayloadTooLarge` as soon as it passes `limit` bytes (declared or streamed)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge("fork request body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge("fork request body too large")
    return bytes(body)


def parse_fork_body(body: bytes) -> ForkRequest:
    """Empty (or blank) → defaults; else exactly one JSON object of string (or null) fields.

    Raises:
        BadRequest: `invalid fork request body` (bad JSON, unknown field, non-string field, trailing value).
    """
    if not body.strip():
        return ForkRequest()
    try:
        data = orjson.loads(body)  # rejects trailing values as well as malformed JSON
    except orjson.JSONDecodeError:
        raise BadRequest(INVALID_FORK_BODY) from None
    if data is None:
        return ForkRequest()
    if not isinstance(data, dict) or set(data) - set(FORK_FIELDS):
        raise BadRequest(INVALID_FORK_BODY)
    if any(not isinstance(v, str | None) for v in data.values()):
        raise BadRequest(INVALID_FORK_BODY)
    return ForkRequest(*((data.get(name) or "").strip() for name in FORK_FIELDS))


async def post_fork(request: Request) -> Response:
    store = context_of(request).store
    if store is None:
        return error_response(503, NO_STORE)
    trace_id, scope = request.path_params["trace_id"], tenant_scope_of(request)
    try:
        # traces-and-lineage.md §7: the source is loaded (404) before the body is read (413, 400).
        async with read_connection(request, store) as conn:
            source = await get_trace(conn, trace_id, scope)
        if source is None:
            return error_response(404, "trace not found")
        fork_request = parse_fork_body(await read_limited(request, MAX_FORK_BODY_BYTES))
        async with read_connection(request, store) as conn:
            result = await fork(conn, source, fork_request, scope)
    except LineageError as exc:
        return error_response(exc.status, str(exc))
    except STORE_ERRORS:
        logger.exception("failed to read trace")
        return error_response(500, "failed to read trace")
    return json_response(result.as_dict())
