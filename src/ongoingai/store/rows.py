"""`TraceRecord` ↔ `traces` row with the write-side and read-side defaults of traces-and-lineage.md §1."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from ongoingai.traces import TraceRecord
from ongoingai.traces.record import DEFAULT_TENANT, normalise_ttft


def _strip_nested(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_strip_nested(k): _strip_nested(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nested(v) for v in value]
    return value


def row_from_record(record: TraceRecord, now: datetime, *, postgres: bool = False) -> dict[str, Any]:
    """Column values for one insert: total 0 → input+output, TTFT normalised, key id from metadata."""
    ttft_ms, ttft_us = normalise_ttft(record.time_to_first_token_ms, record.time_to_first_token_us)
    total = record.total_tokens or record.input_tokens + record.output_tokens
    key_id = record.gateway_key_id or record.metadata.get("gateway_key_id") or None
    row: dict[str, Any] = {
        "id": record.id,
        "trace_group_id": record.trace_group_id or None,
        "org_id": record.org_id or DEFAULT_TENANT,
        "workspace_id": record.workspace_id or DEFAULT_TENANT,
        "timestamp": record.timestamp,
        "provider": record.provider,
        "model": record.model,
        "request_method": record.request_method,
        "request_path": record.request_path,
        "request_headers": record.request_headers,
        "response_headers": record.response_headers,
        "request_body": record.request_body,
        "response_body": record.response_body,
        "response_status": record.response_status,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "total_tokens": total,
        "latency_ms": record.latency_ms,
        "time_to_first_token_ms": ttft_ms,
        "time_to_first_token_us": ttft_us,
        "api_key_hash": record.api_key_hash,
        "gateway_key_id": key_id if isinstance(key_id, str) else None,
        "estimated_cost_usd": record.estimated_cost_usd,
        "metadata": record.metadata,
        "created_at": record.created_at or now,
        "lineage_thread_id": record.lineage_thread_id,
        "lineage_run_id": record.lineage_run_id,
    }
    if postgres:
        # Text columns here; the JSON documents when they are serialised (`json_text_for_postgres`), so
        # that each is serialised once, not once to look for a NUL and again to be sent.
        for key, value in row.items():
            if isinstance(value, str) and "\x00" in value:
                row[key] = value.replace("\x00", "\ufffd")
    return row


def json_text_for_postgres(value: Any) -> str:
    """A JSON document as text for a Postgres JSONB column: U+0000 (which JSONB rejects) replaced."""
    text = orjson.dumps(value).decode()
    # JSON spells the character `\u0000`; a literal `\\u0000` (an escaped backslash) also matches,
    # which only costs the exact walk below.
    return orjson.dumps(_strip_nested(value)).decode() if "\\u0000" in text else text


_JSON_COLUMNS = ("request_headers", "response_headers", "metadata")


def _json_object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _undecodable(row: Mapping[Any, Any]) -> dict[str, str]:
    # `JsonDocument` hands back the stored text when it is not valid JSON (SQLite; JSONB cannot hold it).
    return {name: row[name] for name in _JSON_COLUMNS if isinstance(row.get(name), str) and row[name]}


def record_from_row(row: Mapping[Any, Any]) -> TraceRecord:
    """The stored row as a record; empty tenant → `default`, TTFT normalised on read."""
    ttft_ms, ttft_us = normalise_ttft(row["time_to_first_token_ms"] or 0, row["time_to_first_token_us"] or 0)
    timestamp: datetime = row["timestamp"] or datetime.min.replace(tzinfo=UTC)
    return TraceRecord(
        id=row["id"],
        trace_group_id=row["trace_group_id"] or None,
        org_id=row["org_id"] or DEFAULT_TENANT,
        workspace_id=row["workspace_id"] or DEFAULT_TENANT,
        timestamp=timestamp,
        provider=row["provider"],
        model=row["model"],
        request_method=row["request_method"],
        request_path=row["request_path"],
        request_headers=_json_object(row["request_headers"]),
        response_headers=_json_object(row["response_headers"]),
        request_body=row["request_body"] or "",
        response_body=row["response_body"] or "",
        response_status=row["response_status"] or 0,
        input_tokens=row["input_tokens"] or 0,
        output_tokens=row["output_tokens"] or 0,
        total_tokens=row["total_tokens"] or 0,
        latency_ms=row["latency_ms"] or 0,
        time_to_first_token_ms=ttft_ms,
        time_to_first_token_us=ttft_us,
        api_key_hash=row["api_key_hash"] or "",
        gateway_key_id=row["gateway_key_id"] or None,
        estimated_cost_usd=row["estimated_cost_usd"] or 0.0,
        metadata=_json_object(row["metadata"]),
        created_at=row["created_at"],
        undecodable_json=_undecodable(row),
    )
