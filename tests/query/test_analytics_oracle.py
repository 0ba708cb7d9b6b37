"""The SQL analytics against a plain-Python oracle over 300 generated traces, on both backends.

The oracle reads every record and sorts every latency list: the slow obvious way. The queries must give
the same figures and the same order (ties included: two models share counts, one is upper-case).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import pytest

from ongoingai.query.analytics import AnalyticsFilter, GroupBy, cost_series, usage_series
from ongoingai.query.analytics_latency import error_stats, latency_stats
from ongoingai.query.analytics_totals import key_stats, model_stats, summary
from ongoingai.query.buckets import Bucket, bucket_start
from ongoingai.query.percentiles import percentile
from ongoingai.query.traces import TenantScope
from ongoingai.store import SqlTraceStore
from ongoingai.traces import TraceRecord
from tests.fakes.analytics_traces import generated

RECORDS = generated(300)

FILTERS = {
    "all": AnalyticsFilter(),
    "acme-prod-window": AnalyticsFilter(
        since=datetime(2025, 2, 5, tzinfo=UTC),
        until=datetime(2025, 2, 15, 12, tzinfo=UTC),
        scope=TenantScope("acme", "prod"),
    ),
    "openai": AnalyticsFilter(provider="openai"),
}

GROUP_OF: dict[GroupBy, Callable[[TraceRecord], str]] = {
    GroupBy.PROVIDER: lambda r: r.provider,
    GroupBy.MODEL: lambda r: r.model,
    GroupBy.ROUTE: lambda r: r.request_path,
    GroupBy.KEY: lambda r: r.gateway_key_id or "",
}


def matching(f: AnalyticsFilter) -> list[TraceRecord]:
    def keep(r: TraceRecord) -> bool:
        if f.since and r.timestamp < f.since or f.until and r.timestamp > f.until:
            return False
        if f.provider and r.provider != f.provider or f.model and r.model != f.model:
            return False
        return f.scope is None or (r.org_id, r.workspace_id) == (f.scope.org_id, f.scope.workspace_id)

    return [r for r in RECORDS if keep(r)]


def grouped(
    records: Iterable[TraceRecord], key: Callable[[TraceRecord], Any]
) -> dict[Any, list[TraceRecord]]:
    out: dict[Any, list[TraceRecord]] = defaultdict(list)
    for r in records:
        out[key(r)].append(r)
    return out


def cost_of(rows: list[TraceRecord]) -> float:
    return sum(r.estimated_cost_usd for r in rows)  # k/1024 values: exact in any order


def oracle_models(records: list[TraceRecord]) -> list[dict[str, Any]]:
    rows = [
        {
            "model": model,
            "request_count": len(rs),
            "avg_latency_ms": sum(r.latency_ms for r in rs) / len(rs),
            "avg_ttft_ms": sum(r.time_to_first_token_ms for r in rs) / len(rs),
            "total_tokens": sum(r.total_tokens for r in rs),
            "total_cost_usd": cost_of(rs),
        }
        for model, rs in grouped(records, lambda r: r.model).items()
    ]
    return sorted(rows, key=lambda m: (-m["request_count"], m["model"]))


def oracle_keys(records: list[TraceRecord]) -> list[dict[str, Any]]:
    rows = [
        {
            "api_key_hash": key,
            "request_count": len(rs),
            "total_tokens": sum(r.total_tokens for r in rs),
            "total_cost_usd": cost_of(rs),
            "last_active_at": max(r.created_at or r.timestamp for r in rs),
        }
        for key, rs in grouped((r for r in records if r.api_key_hash), lambda r: r.api_key_hash).items()
    ]
    return sorted(rows, key=lambda k: (-k["request_count"], k["api_key_hash"]))


def oracle_latency(records: list[TraceRecord], group_by: GroupBy) -> list[dict[str, Any]]:
    out = []
    for name, rs in grouped(records, GROUP_OF[group_by]).items():
        values = sorted(r.latency_ms for r in rs)
        item: dict[str, Any] = {"group": name} if name else {}
        item |= {"request_count": len(values), "avg_ms": sum(values) / len(values)}
        item |= {"min_ms": values[0], "max_ms": values[-1]}
        item |= {f"p{p}_ms": percentile(values, p) for p in (50, 95, 99)}
        out.append(item)
    return sorted(out, key=lambda i: (-i["request_count"], i.get("group", "")))


def oracle_errors(records: list[TraceRecord], group_by: GroupBy) -> list[dict[str, Any]]:
    out = []
    for name, rs in grouped(records, GROUP_OF[group_by]).items():
        e4 = sum(1 for r in rs if 400 <= r.response_status <= 499)
        e5 = sum(1 for r in rs if r.response_status >= 500)
        item: dict[str, Any] = {"group": name} if name else {}
        item |= {"total_requests": len(rs), "error_count_4xx": e4, "error_count_5xx": e5}
        item["error_rate"] = (e4 + e5) / len(rs)
        out.append(item)
    return sorted(out, key=lambda i: (-i["total_requests"], i.get("group", "")))


def oracle_usage_series(records: list[TraceRecord], bucket: Bucket) -> list[dict[str, Any]]:
    by = grouped(records, lambda r: (bucket_start(r.timestamp, bucket), r.provider))
    return [
        {
            "bucket_start": start,
            "group": provider,
            "input_tokens": sum(r.input_tokens for r in by[(start, provider)]),
            "output_tokens": sum(r.output_tokens for r in by[(start, provider)]),
            "total_tokens": sum(r.total_tokens for r in by[(start, provider)]),
        }
        for start, provider in sorted(by)
    ]


def oracle_cost_series(records: list[TraceRecord], bucket: Bucket) -> list[dict[str, Any]]:
    by = grouped(records, lambda r: (bucket_start(r.timestamp, bucket), r.model))
    out = []
    for start, model in sorted(by):
        rs = by[(start, model)]
        total = cost_of(rs)
        out.append(
            {
                "bucket_start": start,
                "group": model,
                "total_cost_usd": total,
                "request_count": len(rs),
                "avg_cost_usd": total / len(rs),
            }
        )
    return out


@pytest.fixture
async def store(trace_store: SqlTraceStore) -> SqlTraceStore:
    assert (await trace_store.write_batch(RECORDS)).written == len(RECORDS)
    return trace_store


def test_the_generated_set_has_ties_and_mixed_case_names() -> None:
    models = oracle_models(RECORDS)
    assert "Zeta" in {m["model"] for m in models}
    assert len({m["request_count"] for m in models}) <= len(models)


@pytest.mark.parametrize("name", list(FILTERS))
async def test_models_keys_and_summary_match_the_oracle(store: SqlTraceStore, name: str) -> None:
    f = FILTERS[name]
    records = matching(f)
    async with store.connect() as conn:
        models = [m.as_dict() for m in await model_stats(conn, f)]
        keys = [k.as_dict() for k in await key_stats(conn, f)]
        overview = (await summary(conn, f)).as_dict()

    assert models == oracle_models(records)
    assert keys == oracle_keys(records)
    assert overview["total_requests"] == len(records)
    assert overview["total_tokens"] == sum(r.total_tokens for r in records)
    assert overview["total_cost_usd"] == cost_of(records)
    assert overview["active_keys"] == len(oracle_keys(records))
    assert overview["top_model"] == oracle_models(records)[0]["model"]


@pytest.mark.parametrize("group_by", list(GroupBy))
@pytest.mark.parametrize("name", list(FILTERS))
async def test_latency_and_errors_match_the_oracle(
    store: SqlTraceStore, name: str, group_by: GroupBy
) -> None:
    f = FILTERS[name]
    async with store.connect() as conn:
        latency = (await latency_stats(conn, f, group_by)).as_dict()["items"]
        errors = (await error_stats(conn, f, group_by)).as_dict()["items"]

    assert latency == oracle_latency(matching(f), group_by)
    assert errors == oracle_errors(matching(f), group_by)


@pytest.mark.parametrize("bucket", list(Bucket))
async def test_series_match_the_oracle(store: SqlTraceStore, bucket: Bucket) -> None:
    f = FILTERS["all"]
    async with store.connect() as conn:
        usage = (await usage_series(conn, f, GroupBy.PROVIDER, bucket)).as_dict()["items"]
        cost = (await cost_series(conn, f, GroupBy.MODEL, bucket)).as_dict()["items"]

    assert usage == oracle_usage_series(RECORDS, bucket)
    assert cost == oracle_cost_series(RECORDS, bucket)
