"""JSON responses for `/api`: one object + newline (orjson), RFC 3339 `Z` times, the `{"error"}` model.

Time values are rendered here and only here: UTC, `Z`, trimmed fractional seconds; a missing or zero
time is `null` (DEVIATIONS.md "Zero timestamps").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from starlette.responses import Response

from ongoingai.query import LineageView, TracePage, format_rfc3339, lineage_view
from ongoingai.traces import TraceRecord

JSON_MEDIA_TYPE = "application/json"


def render_time(value: datetime | None) -> str | None:
    if value is None or value.year <= 1:
        return None
    return format_rfc3339(value)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return render_time(value)
    if isinstance(value, LineageView):
        return value.as_dict()
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def dumps(data: Any) -> bytes:
    return orjson.dumps(
        data, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_APPEND_NEWLINE
    )


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(data), status_code=status, media_type=JSON_MEDIA_TYPE, headers=headers)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": message}, status, headers)


def render_summary(record: TraceRecord) -> dict[str, Any]:
    """A list item (http-api.md §5); `api_key_hash` omitted when empty."""
    item: dict[str, Any] = {
        "id": record.id,
        "timestamp": render_time(record.timestamp),
        "provider": record.provider,
        "model": record.model,
        "request_method": record.request_method,
        "request_path": record.request_path,
        "response_status": record.response_status,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "total_tokens": record.total_tokens,
        "latency_ms": record.latency_ms,
        "time_to_first_token_ms": record.time_to_first_token_ms,
        "time_to_first_token_us": record.time_to_first_token_us,
        "api_key_hash": record.api_key_hash,
        "estimated_cost_usd": record.estimated_cost_usd,
        "created_at": render_time(record.created_at),
    }
    if not record.api_key_hash:
        del item["api_key_hash"]
    return item


def render_page(page: TracePage) -> dict[str, Any]:
    out: dict[str, Any] = {"items": [render_summary(r) for r in page.items]}
    if page.next_cursor:
        out["next_cursor"] = page.next_cursor
    return out


def render_detail(record: TraceRecord) -> dict[str, Any]:
    """Summary fields + group, lineage (always), headers, bodies, metadata (each omitted when empty).

    `gateway_key_id` is never exposed (traces-and-lineage.md §1).
    """
    out = render_summary(record)
    if record.trace_group_id:
        out["trace_group_id"] = record.trace_group_id
    out["lineage"] = lineage_view(record).as_dict()
    raw = record.undecodable_json  # http-api.md §6: headers that do not decode are shown as stored
    optional = {
        "request_headers": record.request_headers or raw.get("request_headers"),
        "response_headers": record.response_headers or raw.get("response_headers"),
        "request_body": record.request_body,
        "response_body": record.response_body,
        "metadata": record.metadata,
    }
    out.update({name: value for name, value in optional.items() if value})
    return out
