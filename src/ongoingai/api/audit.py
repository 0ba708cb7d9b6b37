"""`GET /api/audit` (DEVIATIONS.md "Audit records"): parse filters → `query.audit` → render, tenant-scoped."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ongoingai.api.context import context_of, read_connection, tenant_scope_of
from ongoingai.api.params import ParamDoc, parse_int, parse_time
from ongoingai.api.render import error_response, json_response, render_time
from ongoingai.api.traces import STORE_ERRORS
from ongoingai.auth.audit import ACTIONS, OUTCOMES
from ongoingai.http.errors import BadRequest
from ongoingai.query.audit import (
    DEFAULT_AUDIT_LIMIT,
    MAX_AUDIT_LIMIT,
    AuditFilter,
    AuditRow,
    list_audit_events,
)
from ongoingai.query.cursor import CursorError, decode_cursor

logger = logging.getLogger(__name__)

AUDIT_PARAMS: tuple[ParamDoc, ...] = (
    ParamDoc("limit", "integer", f"page size 0-{MAX_AUDIT_LIMIT}; 0 or absent means {DEFAULT_AUDIT_LIMIT}"),
    ParamDoc("cursor", "string", "next_cursor of the previous page"),
    ParamDoc("from", "string", "created_at >= this; RFC 3339 or YYYY-MM-DD (UTC midnight)"),
    ParamDoc("to", "string", "created_at <= this; RFC 3339 or YYYY-MM-DD (end of that UTC day)"),
    ParamDoc("action", "string", "exact action: " + ", ".join(ACTIONS)),
    ParamDoc("outcome", "string", "exact outcome: " + ", ".join(OUTCOMES)),
    ParamDoc("key_id", "string", "exact actor gateway key id"),
    ParamDoc("trace_id", "string", "exact trace id"),
)


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str:
    value = request.query_params.get(name, "").strip()
    if value and value not in allowed:
        raise BadRequest(f'invalid {name} "{value}"')
    return value


def parse_audit_filter(request: Request) -> AuditFilter:
    """Raises:
    BadRequest: the first broken rule.
    """
    query = request.query_params
    limit = parse_int(query, "limit", 0, MAX_AUDIT_LIMIT) or DEFAULT_AUDIT_LIMIT
    since = parse_time(query, "from")
    until = parse_time(query, "to", end_of_day=True)
    if since is not None and until is not None and until < since:
        raise BadRequest("to must be greater than or equal to from")
    cursor_text = query.get("cursor", "").strip()
    try:
        cursor = decode_cursor(cursor_text) if cursor_text else None
    except CursorError as exc:
        raise BadRequest(f"audit cursor is invalid: {exc}") from None
    return AuditFilter(
        limit=limit,
        since=since,
        until=until,
        action=_choice(request, "action", ACTIONS),
        outcome=_choice(request, "outcome", OUTCOMES),
        key_id=query.get("key_id", "").strip(),
        trace_id=query.get("trace_id", "").strip(),
        cursor=cursor,
        scope=tenant_scope_of(request),
    )


def render_audit_event(row: AuditRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "created_at": render_time(row.created_at),
        "org_id": row.org_id,
        "workspace_id": row.workspace_id,
        "actor_key_id": row.actor_key_id,
        "action": row.action,
        "outcome": row.outcome,
        "reason": row.reason,
        "trace_id": row.trace_id,
        "correlation_id": row.correlation_id,
        "details": row.details,
    }


async def get_audit(request: Request) -> Response:
    store = context_of(request).store
    audit_filter = parse_audit_filter(request)
    if store is None:
        return error_response(503, "audit store is not configured")
    try:
        async with read_connection(request, store) as conn:
            page = await list_audit_events(conn, audit_filter)
    except STORE_ERRORS:
        logger.exception("failed to query audit events")
        return error_response(500, "failed to query audit events")
    out: dict[str, Any] = {"items": [render_audit_event(r) for r in page.items]}
    if page.next_cursor:
        out["next_cursor"] = page.next_cursor
    return json_response(out)
