"""Seeded trace sets for analytics, report and lineage tests, with answers computed by hand.

`HAND` is nine traces (seven in tenant default/default, two in acme/prod) whose every analytics figure is
worked out in the tests' comments. Costs are binary fractions so sums are exact on both backends.
`generated(n)` is a larger deterministic mix for oracle comparisons.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ongoingai.traces import TraceRecord
from tests.fakes.trace_records import make_record

OPENAI_PATH = "/openai/v1/chat/completions"
ANTHROPIC_PATH = "/anthropic/v1/messages"


@dataclass(frozen=True)
class Row:
    n: int
    at: datetime
    provider: str
    model: str
    status: int
    input_tokens: int
    output_tokens: int
    latency_ms: int
    ttft_ms: int
    key_hash: str
    gateway_key: str | None
    cost: float
    org: str = "default"
    workspace: str = "default"


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, 1, day, hour, minute, second, tzinfo=UTC)


# 2025-01-06 is a Monday; row 6 is the last second of that week, row 7 the first of the next.
HAND_ROWS = (
    Row(1, at(6, 9, 15), "openai", "gpt-4o", 200, 100, 50, 100, 0, "k1", "gk_a", 0.5),
    Row(2, at(6, 9, 45), "openai", "gpt-4o", 200, 200, 100, 200, 40, "k1", "gk_a", 1.0),
    Row(3, at(6, 10, 5), "anthropic", "claude-3-5-sonnet", 429, 10, 0, 50, 0, "k2", "gk_b", 0.0),
    Row(4, at(7, 12), "openai", "gpt-4o-mini", 500, 40, 0, 1000, 0, "k2", None, 0.25),
    Row(5, at(8, 8), "anthropic", "claude-3-5-sonnet", 200, 300, 200, 400, 80, "", "gk_b", 2.0),
    Row(6, at(12, 23, 59, 59), "openai", "gpt-4o", 404, 0, 0, 0, 0, "k1", "gk_a", 0.0),
    Row(7, at(13, 0), "openai", "gpt-4o", 200, 50, 25, 300, 20, "k3", "gk_c", 0.125),
    Row(8, at(6, 11), "openai", "gpt-4o", 200, 1000, 1000, 700, 0, "k9", "gk_z", 8.0, "acme", "prod"),
    Row(9, at(7, 11), "anthropic", "claude-3-haiku", 503, 5, 0, 900, 0, "k9", "gk_z", 0.0, "acme", "prod"),
)


def record_of(row: Row) -> TraceRecord:
    metadata: dict[str, object] = {"streaming": row.ttft_ms > 0, "lineage_checkpoint_id": f"{row.n:032x}"}
    if row.gateway_key:
        metadata["gateway_key_id"] = row.gateway_key
    return make_record(
        row.n,
        timestamp=row.at,
        created_at=row.at,
        provider=row.provider,
        model=row.model,
        request_path=OPENAI_PATH if row.provider == "openai" else ANTHROPIC_PATH,
        response_status=row.status,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        total_tokens=row.input_tokens + row.output_tokens,
        latency_ms=row.latency_ms,
        time_to_first_token_ms=row.ttft_ms,
        time_to_first_token_us=row.ttft_ms * 1000,
        api_key_hash=row.key_hash,
        gateway_key_id=row.gateway_key,
        estimated_cost_usd=row.cost,
        org_id=row.org,
        workspace_id=row.workspace,
        metadata=metadata,
    )


HAND = [record_of(row) for row in HAND_ROWS]

_PROVIDERS = (("openai", ("gpt-4o", "gpt-4o-mini", "o3-mini")), ("anthropic", ("claude-3-5-sonnet", "Zeta")))
_STATUSES = (200, 200, 200, 200, 201, 400, 404, 429, 500, 502, 503)
_TENANTS = (("default", "default"), ("acme", "prod"), ("acme", "dev"))


def generated(count: int = 300, seed: int = 5) -> list[TraceRecord]:
    """`count` traces over three weeks, three tenants, five models, seven keys (one empty), many statuses."""
    rng = random.Random(seed)
    start = datetime(2025, 2, 1, tzinfo=UTC)
    out = []
    for i in range(count):
        provider, models = rng.choice(_PROVIDERS)
        when = start + timedelta(seconds=rng.randrange(21 * 86400))
        in_tokens, out_tokens = rng.randrange(0, 5000), rng.randrange(0, 3000)
        org, workspace = rng.choice(_TENANTS)
        key = rng.choice(["", "h1", "h2", "h3", "h4", "h5", "h6"])
        gateway_key = rng.choice([None, "gk_1", "gk_2", "gk_3"])
        metadata: dict[str, object] = {"streaming": False}
        if gateway_key:
            metadata["gateway_key_id"] = gateway_key
        out.append(
            make_record(
                1000 + i,
                timestamp=when,
                created_at=when,
                provider=provider,
                model=rng.choice(models),
                request_path=OPENAI_PATH if provider == "openai" else ANTHROPIC_PATH,
                response_status=rng.choice(_STATUSES),
                input_tokens=in_tokens,
                output_tokens=out_tokens,
                total_tokens=in_tokens + out_tokens,
                latency_ms=rng.randrange(0, 5000),
                time_to_first_token_ms=rng.choice([0, 0, rng.randrange(1, 900)]),
                time_to_first_token_us=0,
                api_key_hash=key,
                gateway_key_id=gateway_key,
                estimated_cost_usd=rng.randrange(0, 4096) / 1024,
                org_id=org,
                workspace_id=workspace,
                metadata=metadata,
            )
        )
    return out
