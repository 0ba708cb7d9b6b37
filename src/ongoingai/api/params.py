"""Query-string parsing for `/api/traces`: every rule and 400 message of http-api.md §5, in its order.

`TRACE_LIST_PARAMS` is the one list of accepted parameters; the OpenAPI document is built from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time

from ongoingai.http.errors import BadRequest
from ongoingai.query import DEFAULT_LIMIT, MAX_LIMIT, CursorError, TenantScope, TraceFilter, decode_cursor
from ongoingai.store.columns import parse_stored_time

MAX_TOKENS_FILTER = 10_000_000
_INTEGER = re.compile(r"^[+-]?\d+$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_END_OF_DAY = time(23, 59, 59, 999_999)


@dataclass(frozen=True, slots=True)
class ParamDoc:
    name: str
    type: str  # OpenAPI scalar type
    description: str
    format: str | None = None


TRACE_LIST_PARAMS: tuple[ParamDoc, ...] = (
    ParamDoc("limit", "integer", f"page size 0-{MAX_LIMIT}; 0 or absent means {DEFAULT_LIMIT}"),
    ParamDoc("cursor", "string", "next_cursor of the previous page"),
    ParamDoc("status", "integer", "exact response status, 100-599"),
    ParamDoc("min_tokens", "integer", f"total_tokens >= this (0-{MAX_TOKENS_FILTER}; 0 = off)"),
    ParamDoc("max_tokens", "integer", f"total_tokens <= this (0-{MAX_TOKENS_FILTER}; 0 = off)"),
    ParamDoc("from", "string", "timestamp >= this; RFC 3339 or YYYY-MM-DD (UTC midnight)"),
    ParamDoc("to", "string", "timestamp <= this; RFC 3339 or YYYY-MM-DD (end of that UTC day)"),
    ParamDoc("provider", "string", "exact provider"),
    ParamDoc("model", "string", "exact model"),
    ParamDoc("api_key_hash", "string", "exact provider-credential hash"),
    ParamDoc("trace_group_id", "string", "exact trace group"),
    ParamDoc("thread_id", "string", "exact lineage thread"),
    ParamDoc("run_id", "string", "exact lineage run"),
)


def parse_int(query: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    raw = query.get(name, "")
    if raw == "":
        return None
    if not _INTEGER.match(raw):
        raise BadRequest(f"{name} must be an integer")
    value = int(raw)
    if value < low:
        raise BadRequest(f"{name} must be >= {low}")
    if value > high:
        raise BadRequest(f"{name} must be <= {high}")
    return value


def parse_time(query: Mapping[str, str], name: str, *, end_of_day: bool = False) -> datetime | None:
    """RFC 3339 (converted to UTC) or `YYYY-MM-DD` (UTC midnight, or the day's last instant for `to`)."""
    raw = query.get(name, "").strip()
    if not raw:
        return None
    date = _DATE.match(raw)
    try:
        if date is not None:
            day = datetime(int(date[1]), int(date[2]), int(date[3]), tzinfo=UTC)
            return datetime.combine(day.date(), _END_OF_DAY, UTC) if end_of_day else day
        if _RFC3339.match(raw):
            return parse_stored_time(raw)
    except ValueError:
        pass
    raise BadRequest(f"invalid {name}: expected RFC3339 or YYYY-MM-DD")


def _text(query: Mapping[str, str], name: str) -> str:
    return query.get(name, "").strip()


def parse_trace_filter(query: Mapping[str, str], scope: TenantScope | None = None) -> TraceFilter:
    """The validated filter for `GET /api/traces`.

    Raises:
        BadRequest: the first broken rule, with the spec's message.
    """
    limit = parse_int(query, "limit", 0, MAX_LIMIT) or DEFAULT_LIMIT
    status = parse_int(query, "status", 100, 599)
    min_tokens = parse_int(query, "min_tokens", 0, MAX_TOKENS_FILTER) or 0
    max_tokens = parse_int(query, "max_tokens", 0, MAX_TOKENS_FILTER) or 0
    if min_tokens > 0 and max_tokens > 0 and max_tokens < min_tokens:
        raise BadRequest("max_tokens must be greater than or equal to min_tokens")
    since = parse_time(query, "from")
    until = parse_time(query, "to", end_of_day=True)
    if since is not None and until is not None and until < since:
        raise BadRequest("to must be greater than or equal to from")
    cursor_text = _text(query, "cursor")
    try:
        cursor = decode_cursor(cursor_text) if cursor_text else None
    except CursorError as exc:
        raise BadRequest(f"trace cursor is invalid: {exc}") from None
    return TraceFilter(
        limit=limit,
        status=status,
        min_tokens=min_tokens,
        max_tokens=max_tokens,
        since=since,
        until=until,
        provider=_text(query, "provider"),
        model=_text(query, "model"),
        api_key_hash=_text(query, "api_key_hash"),
        trace_group_id=_text(query, "trace_group_id"),
        thread_id=_text(query, "thread_id"),
        run_id=_text(query, "run_id"),
        cursor=cursor,
        scope=scope,
    )
