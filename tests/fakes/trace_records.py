"""`make_record`: realistic, deterministic TraceRecords for store, sink, query and API tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ongoingai.traces import TraceRecord

T0 = datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def trace_id(n: int) -> str:
    return f"{n:032x}"


def make_record(n: int = 1, **overrides: Any) -> TraceRecord:
    """Record number `n`: id `trace_id(n)`, timestamp/created_at T0 + n seconds unless overridden."""
    at = T0 + timedelta(seconds=n)
    record = TraceRecord(
        id=trace_id(n),
        timestamp=at,
        created_at=at,
        provider="openai",
        model="gpt-4o-mini",
        request_method="POST",
        request_path="/openai/v1/chat/completions",
        response_status=200,
        request_headers={"Content-Type": ["application/json"], "Authorization": ["[REDACTED]"]},
        response_headers={"Content-Type": ["application/json"]},
        request_body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}',
        response_body='{"choices":[{"message":{"content":"hello"}}]}',
        input_tokens=12,
        output_tokens=30,
        total_tokens=42,
        latency_ms=350,
        time_to_first_token_ms=0,
        time_to_first_token_us=0,
        api_key_hash="ab" * 32,
        estimated_cost_usd=0.000123,
        metadata={
            "streaming": False,
            "stream_chunks": 0,
            "redaction_mode": "off",
            "redaction_policy_id": "default/v1",
            "redaction_applied": True,
            "lineage_checkpoint_id": trace_id(n),
            "lineage_immutable": True,
            "correlation_id": f"corr-{n}",
        },
    )
    return replace(record, **overrides)
