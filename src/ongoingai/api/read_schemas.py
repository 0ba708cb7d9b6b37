"""OpenAPI schemas of the read-side responses (analytics, replay, fork) and the fork request body.

`openapi.SCHEMAS` takes these in; the API tests check real responses against them, so a field added to a
response without its schema fails a test.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_INT = {"type": "integer"}
_STR = {"type": "string"}
_NUM = {"type": "number"}
_TIME = {"type": ["string", "null"], "format": "date-time"}


def _obj(props: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required), "additionalProperties": False}


def _array(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _series(point: dict[str, Any]) -> dict[str, Any]:
    return _obj(
        {"group_by": _STR, "bucket": {"enum": ["hour", "day", "week"]}, "items": _array(point)},
        ["bucket", "items"],
    )


def _one_of(*schemas: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": list(schemas)}


_USAGE_TOTALS = {"total_input_tokens": _INT, "total_output_tokens": _INT, "total_tokens": _INT}
_USAGE_POINT = _obj(
    {"bucket_start": _TIME, "group": _STR, "input_tokens": _INT, "output_tokens": _INT, "total_tokens": _INT},
    ["bucket_start", "input_tokens", "output_tokens", "total_tokens"],
)
_COST_POINT = _obj(
    {
        "bucket_start": _TIME,
        "group": _STR,
        "total_cost_usd": _NUM,
        "request_count": _INT,
        "avg_cost_usd": _NUM,
    },
    ["bucket_start", "total_cost_usd", "request_count", "avg_cost_usd"],
)
_MODEL = {
    "model": _STR,
    "request_count": _INT,
    "avg_latency_ms": _NUM,
    "avg_ttft_ms": _NUM,
    "total_tokens": _INT,
    "total_cost_usd": _NUM,
}
_KEY = {
    "api_key_hash": _STR,
    "request_count": _INT,
    "total_tokens": _INT,
    "total_cost_usd": _NUM,
    "last_active_at": _TIME,
}
_LATENCY = {
    "group": _STR,
    "request_count": _INT,
    "avg_ms": _NUM,
    "min_ms": _INT,
    "max_ms": _INT,
    "p50_ms": _NUM,
    "p95_ms": _NUM,
    "p99_ms": _NUM,
}
_ERRORS = {
    "group": _STR,
    "total_requests": _INT,
    "error_count_4xx": _INT,
    "error_count_5xx": _INT,
    "error_rate": _NUM,
}
_SUMMARY = {
    "total_requests": _INT,
    "total_input_tokens": _INT,
    "total_output_tokens": _INT,
    "total_tokens": _INT,
    "total_cost_usd": _NUM,
    "active_keys": _INT,
    "top_model": _STR,
}
_CHECKPOINT = {
    "id": _STR,
    "timestamp": _TIME,
    "provider": _STR,
    "model": _STR,
    "request_method": _STR,
    "request_path": _STR,
    "response_status": _INT,
    "total_tokens": _INT,
    "latency_ms": _INT,
    "created_at": _TIME,
    "lineage": _ref("Lineage"),
}
_FORK_LINEAGE = {
    "group_id": _STR,
    "thread_id": _STR,
    "run_id": _STR,
    "parent_checkpoint_id": _STR,
    "checkpoint_seq": _INT,
}
_FORK_HEADERS = (
    "X-OngoingAI-Trace-Group-ID",
    "X-OngoingAI-Thread-ID",
    "X-OngoingAI-Run-ID",
    "X-OngoingAI-Parent-Checkpoint-ID",
    "X-OngoingAI-Checkpoint-Seq",
)
_FORK_FIELDS = {"checkpoint_id": _STR, "thread_id": _STR, "run_id": _STR}

READ_SIDE_SCHEMAS: dict[str, Any] = {
    "UsageAnalytics": _one_of(_obj(_USAGE_TOTALS, list(_USAGE_TOTALS)), _series(_USAGE_POINT)),
    "CostAnalytics": _one_of(_obj({"total_cost_usd": _NUM}, ["total_cost_usd"]), _series(_COST_POINT)),
    "ModelAnalytics": _obj({"items": _array(_obj(_MODEL, list(_MODEL)))}, ["items"]),
    "KeyAnalytics": _obj({"items": _array(_obj(_KEY, list(_KEY)))}, ["items"]),
    "LatencyAnalytics": _obj(
        {"group_by": _STR, "items": _array(_obj(_LATENCY, [k for k in _LATENCY if k != "group"]))}, ["items"]
    ),
    "ErrorAnalytics": _obj(
        {"group_by": _STR, "items": _array(_obj(_ERRORS, [k for k in _ERRORS if k != "group"]))}, ["items"]
    ),
    "SummaryAnalytics": _obj(_SUMMARY, [k for k in _SUMMARY if k != "top_model"]),
    "Replay": _obj(
        {
            "source_trace_id": _STR,
            "target_checkpoint_id": _STR,
            "lineage": _ref("Lineage"),
            "checkpoints": _array(_obj(_CHECKPOINT, list(_CHECKPOINT))),
            "truncated": {"type": "boolean"},
            "target_trace": _ref("TraceDetail"),
        },
        ["source_trace_id", "target_checkpoint_id", "lineage", "checkpoints", "truncated", "target_trace"],
    ),
    "Fork": _obj(
        {
            "fork_id": _STR,
            "source_trace_id": _STR,
            "source_checkpoint_id": _STR,
            "lineage": _obj(_FORK_LINEAGE, list(_FORK_LINEAGE)),
            "headers": _obj(dict.fromkeys(_FORK_HEADERS, _STR), _FORK_HEADERS),
        },
        ["fork_id", "source_trace_id", "source_checkpoint_id", "lineage", "headers"],
    ),
    "ForkRequest": _obj(_FORK_FIELDS),
}

# Request bodies by (path, method): `openapi.build_openapi` attaches them to the operation.
REQUEST_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("/api/traces/{trace_id}/fork", "post"): {
        "required": False,
        "description": "optional; at most 16 KiB; unknown fields are rejected",
        "content": {"application/json": {"schema": _ref("ForkRequest")}},
    },
}
