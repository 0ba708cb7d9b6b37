"""Rollup-backed analytics equal the raw queries over `traces`, on both backends (issue 5 "Performance").

Hypothesis draws traces around a midnight that starts a week, writes them in shuffled batches (out of
order, as a spill replay would), and draws filters whose edges fall on or between hours. Every answer the
rollup serves — the totals cube, usage and cost series per bucket and group, error counts per group — must
equal the raw query's. Costs are multiples of 1/1024, so float sums are exact in any order and the
comparison can be exact too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ongoingai.query.analytics import AnalyticsFilter, GroupBy, raw_series_rows, series_rows
from ongoingai.query.analytics_latency import error_rows, raw_error_rows
from ongoingai.query.analytics_totals import merge_cube, raw_usage_cube, usage_cube
from ongoingai.query.buckets import Bucket
from ongoingai.query.rollup_reads import DAYS, HOURS, pieces
from ongoingai.query.traces import TenantScope
from ongoingai.store import SqlTraceStore
from ongoingai.store.tables import trace_rollups_daily, trace_rollups_hourly, traces
from ongoingai.traces import TraceRecord
from tests.fakes.trace_records import make_record

# Sunday 22:00 UTC: four hours of traffic cross a day and a week boundary (2025-03-10 is a Monday).
BASE = datetime(2025, 3, 9, 22, tzinfo=UTC)
SPAN_S = 4 * 3600
MODELS = (("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-3-5-haiku"))
TENANTS = (("default", "default"), ("acme", "prod"))
SERIES_VALUES = ["input_tokens", "output_tokens", "total_tokens", "total_cost_usd"]


@dataclass(frozen=True)
class Draw:
    offset_us: int
    created_lag_s: int
    model: int
    tenant: int
    key_hash: str
    gateway_key: str | None
    status: int
    tokens: tuple[int, int]
    latency_ms: int
    ttft_ms: int
    cost_1024ths: int


draws = st.builds(
    Draw,
    offset_us=st.integers(0, SPAN_S * 1_000_000 - 1),
    created_lag_s=st.sampled_from([0, 0, 1, 7200]),
    model=st.integers(0, len(MODELS) - 1),
    tenant=st.integers(0, len(TENANTS) - 1),
    key_hash=st.sampled_from(["", "h1", "h2"]),
    gateway_key=st.sampled_from([None, "gk_1", "gk_2"]),
    status=st.sampled_from([0, 200, 201, 399, 400, 404, 429, 499, 500, 503]),
    tokens=st.tuples(st.integers(0, 5000), st.integers(0, 5000)),
    latency_ms=st.integers(0, 10_000),
    ttft_ms=st.integers(0, 500),
    cost_1024ths=st.integers(0, 4096),
)


def record_of(n: int, d: Draw) -> TraceRecord:
    at = BASE + timedelta(microseconds=d.offset_us)
    provider, model = MODELS[d.model]
    org, workspace = TENANTS[d.tenant]
    return make_record(
        n,
        timestamp=at,
        created_at=at + timedelta(seconds=d.created_lag_s),
        provider=provider,
        model=model,
        org_id=org,
        workspace_id=workspace,
        api_key_hash=d.key_hash,
        gateway_key_id=d.gateway_key,
        response_status=d.status,
        input_tokens=d.tokens[0],
        output_tokens=d.tokens[1],
        total_tokens=0 if d.tokens[0] % 3 == 0 else sum(d.tokens),  # 0 → input + output on write
        latency_ms=d.latency_ms,
        time_to_first_token_ms=d.ttft_ms,
        estimated_cost_usd=d.cost_1024ths / 1024,
    )


# An edge: none, on an hour, or anywhere (including a microsecond either side of an hour).
edges = st.one_of(
    st.none(),
    st.integers(-1, 5).map(lambda h: BASE + timedelta(hours=h)),
    st.integers(-3600, SPAN_S + 3600).map(lambda s: BASE + timedelta(seconds=s)),
    st.tuples(st.integers(0, 4), st.sampled_from([-1, 1])).map(
        lambda t: BASE + timedelta(hours=t[0], microseconds=t[1])
    ),
)


@st.composite
def filters(draw: st.DrawFn) -> AnalyticsFilter:
    since, until = draw(edges), draw(edges)
    if since is not None and until is not None and until < since:
        since, until = until, since
    provider, model = draw(st.sampled_from([("", ""), ("openai", ""), ("", "gpt-4o"), ("anthropic", "x")]))
    tenant = draw(st.sampled_from([None, *TENANTS]))
    scope = None if tenant is None else TenantScope(*tenant)
    return AnalyticsFilter(since=since, until=until, provider=provider, model=model, scope=scope)


async def replace_contents(store: SqlTraceStore, records: list[TraceRecord], seed: int) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(sa.delete(traces))
        await conn.execute(sa.delete(trace_rollups_hourly))
        await conn.execute(sa.delete(trace_rollups_daily))
    shuffled = list(records)
    random.Random(seed).shuffle(shuffled)
    while shuffled:
        size = random.Random(seed + len(shuffled)).randint(1, 9)
        batch, shuffled = shuffled[:size], shuffled[size:]
        result = await store.write_batch(batch)
        assert result.failures == ()


async def answers(store: SqlTraceStore, f: AnalyticsFilter, rollup: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with store.connect() as conn:
        out["cube"] = await usage_cube(conn, f) if rollup else merge_cube([await raw_usage_cube(conn, f)])
        for bucket in Bucket:
            for group in (None, GroupBy.PROVIDER, GroupBy.MODEL):
                rows = (series_rows if rollup else raw_series_rows)(conn, f, group, bucket, SERIES_VALUES)
                got = await rows
                out[f"series {bucket} {group}"] = sorted(
                    (r["bucket_start"], r["grp"], *(float(r[k]) for k in ["request_count", *SERIES_VALUES]))
                    for r in got
                )
        for group in (None, *GroupBy):
            errors = await (error_rows if rollup else raw_error_rows)(conn, f, group)
            out[f"errors {group}"] = sorted(errors)
    return out


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(draws, min_size=0, max_size=30).map(
        lambda ds: [record_of(i, d) for i, d in enumerate(ds)]
    ),
    checks=st.lists(filters(), min_size=1, max_size=4),
    seed=st.integers(0, 1000),
)
async def test_rollup_answers_equal_raw_answers(
    trace_store: SqlTraceStore, records: list[TraceRecord], checks: list[AnalyticsFilter], seed: int
) -> None:
    await replace_contents(trace_store, records, seed)

    for f in [AnalyticsFilter(), *checks]:
        assert await answers(trace_store, f, rollup=True) == await answers(trace_store, f, rollup=False), f


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (None, None, ["day [None, None)"]),
        ("03-10T00:00:00", "03-11T23:59:59.999999", ["day [10 00:00, 12 00:00)"]),
        # 00:00:00 on the 12th is in the range: that day is partial, and so is its first hour.
        ("03-10T00:00:00", "03-12T00:00:00", ["day [10 00:00, 12 00:00)", "raw [12 00:00, 12 00:00]"]),
        (
            "03-09T22:17:00",
            "03-11T01:42:00",
            [
                "day [10 00:00, 11 00:00)",
                "hour [09 23:00, 10 00:00)",
                "raw [09 22:17, 09 22:59]",
                "hour [11 00:00, 11 01:00)",
                "raw [11 01:00, 11 01:42]",
            ],
        ),
        (
            "03-10T10:17:00",
            "03-10T12:42:00",
            ["hour [10 11:00, 10 12:00)", "raw [10 10:17, 10 10:59]", "raw [10 12:00, 10 12:42]"],
        ),
        ("03-10T10:17:00", "03-10T10:42:00", ["raw [10 10:17, 10 10:42]"]),
        ("03-10T10:17:00", "03-10T11:05:00", ["raw [10 10:17, 10 11:05]"]),  # no whole hour inside
    ],
)
def test_a_range_is_cut_into_whole_days_whole_hours_and_raw_edges(
    since: str | None, until: str | None, expected: list[str]
) -> None:
    def at(text: str | None) -> datetime | None:
        return None if text is None else datetime.fromisoformat(f"2025-{text}+00:00")

    def shown(value: datetime | None) -> str:
        return "None" if value is None else value.strftime("%d %H:%M")

    def name(table: Any) -> str:
        return {None: "raw", trace_rollups_daily: "day", trace_rollups_hourly: "hour"}[table]

    got = pieces(at(since), at(until), (DAYS, HOURS))

    closing = {"raw": "]"}
    assert [
        f"{name(p.table)} [{shown(p.since)}, {shown(p.until)}{closing.get(name(p.table), ')')}" for p in got
    ] == expected
