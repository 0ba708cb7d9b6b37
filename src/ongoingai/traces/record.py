"""`TraceRecord`: one persisted exchange, field for field as traces-and-lineage.md §1 defines it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEFAULT_TENANT = "default"


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """Immutable once built; the store writes it as is and never updates it."""

    id: str
    timestamp: datetime
    provider: str
    model: str
    request_method: str
    request_path: str
    response_status: int
    trace_group_id: str | None = None
    org_id: str = DEFAULT_TENANT
    workspace_id: str = DEFAULT_TENANT
    # canonical header name → values, after header redaction
    request_headers: dict[str, list[str]] = field(default_factory=dict)
    response_headers: dict[str, list[str]] = field(default_factory=dict)
    request_body: str = ""
    response_body: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    latency_ms: int = 0
    time_to_first_token_ms: int = 0
    time_to_first_token_us: int = 0
    api_key_hash: str = ""
    gateway_key_id: str | None = None
    estimated_cost_usd: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    # Read side only, never written: stored JSON columns that did not decode to an object, by column name,
    # as the stored text, so that trace detail can show them (http-api.md §6: headers are the "raw string
    # if invalid") instead of reading as absent.
    undecodable_json: dict[str, str] = field(default_factory=dict)

    @property
    def lineage_thread_id(self) -> str | None:
        value = self.metadata.get("lineage_thread_id")
        return value if isinstance(value, str) and value else None

    @property
    def lineage_run_id(self) -> str | None:
        value = self.metadata.get("lineage_run_id")
        return value if isinstance(value, str) and value else None


def normalise_ttft(ms: int, us: int) -> tuple[int, int]:
    """traces-and-lineage.md §1: fill one TTFT unit from the other (applied at build, write and read)."""
    if us > 0 and ms == 0:
        ms = -(-us // 1000)
    elif ms > 0 and us == 0:
        us = ms * 1000
    return ms, us
