"""Analytics queries on both backends against the hand-computed `HAND` set (tests/fakes/analytics_traces.py).

Rows 1–7 are tenant default/default, rows 8–9 acme/prod; every expected figure below is worked out from
the table in that module.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ongoingai.query.analytics import AnalyticsFilter, GroupBy, cost_series, usage_series
from ongoingai.query.analytics_latency import error_stats, latency_stats
from ongoingai.query.analytics_totals import cost_summary, key_stats, model_stats, summary, usage_summary
from ongoingai.query.buckets import Bucket
from ongoingai.query.traces import TenantScope
from ongoingai.store import SqlTraceStore
from tests.fakes.analytics_traces import ANTHROPIC_PATH, HAND, OPENAI_PATH, at

DEFAULT = AnalyticsFilter(scope=TenantScope("default", "default"))
ACME = AnalyticsFilter(scope=TenantScope("acme", "prod"))


@pytest.fixture
async def store(trace_store: SqlTraceStore) -> SqlTraceStore:
    result = await trace_store.write_batch(HAND)
    assert result.written == len(HAND)
    return trace_store


async def test_usage_and_cost_summaries(store: SqlTraceStore) -> None:
    async with store.connect() as conn:
        usage = (await usage_summary(conn, DEFAULT)).as_dict()
        cost = (await cost_summary(conn, DEFAULT)).as_dict()
        everyone = (await usage_summary(conn, AnalyticsFilter())).as_dict()

    # in 100+200+10+40+300+0+50, out 50+100+0+0+200+0+25; cost .5+1+0+.25+2+0+.125
    assert usage == {"total_input_tokens": 700, "total_output_tokens": 375, "total_tokens": 1075}
    assert cost == {"total_cost_usd": 3.875}
    assert everyone == {"total_input_tokens": 1705, "total_output_tokens": 1375, "total_tokens": 3080}


async def test_summary_per_tenant_and_unscoped(store: SqlTraceStore) -> None:
    async with store.connect() as conn:
        default = (await summary(conn, DEFAULT)).as_dict()
        acme = (await summary(conn, ACME)).as_dict()
        everyone = (await summary(conn, AnalyticsFilter())).as_dict()

    assert default == {
        "total_requests": 7,
        "total_input_tokens": 700,
        "total_output_tokens": 375,
        "total_tokens": 1075,
        "total_cost_usd": 3.875,
        "active_keys": 3,  # k1, k2, k3; row 5 has no key hash
        "top_model": "gpt-4o",
    }
    # acme: one gpt-4o and one claude-3-haiku: the tie goes to the lexically smaller name
    assert acme == {
        "total_requests": 2,
        "total_input_tokens": 1005,
        "total_output_tokens": 1000,
        "total_tokens": 2005,
        "total_cost_usd": 8.0,
        "active_keys": 1,
        "top_model": "claude-3-haiku",
    }
    assert (everyone["total_requests"], everyone["active_keys"], everyone["total_cost_usd"]) == (9, 4, 11.875)


async def test_models_are_count_desc_with_averages_over_all_rows(store: SqlTraceStore) -> None:
    async with store.connect() as conn:
        models = [m.as_dict() for m in await model_stats(conn, DEFAULT)]

    assert models == [
        # rows 1, 2, 6, 7: latency 100+200+0+300, ttft 0+40+0+20
        {
            "model": "gpt-4o",
            "request_count": 4,
            "avg_latency_ms": 150.0,
            "avg_ttft_ms": 15.0,
            "total_tokens": 525,
            "total_cost_usd": 1.625,
        },
        {
            "model": "claude-3-5-sonnet",
            "request_count": 2,
            "avg_latency_ms": 225.0,
            "avg_ttft_ms": 40.0,
            "total_tokens": 510,
            "total_cost_usd": 2.0,
        },
        {
            "model": "gpt-4o-mini",
            "request_count": 1,
            "avg_latency_ms": 1000.0,
            "avg_ttft_ms": 0.0,
            "total_tokens": 40,
            "total_cost_usd": 0.25,
        },
    ]


async def test_keys_skip_empty_hashes_and_carry_last_activity(store: SqlTraceStore) -> None:
    async with store.connect() as conn:
        keys = [k.as_dict() for k in await key_stats(conn, DEFAULT)]

    assert keys == [
        {
            "api_key_hash": "k1",
            "request_count": 3,
            "total_tokens": 450,
            "total_cost_usd": 1.5,
            "last_active_at": at(12, 23, 59, 59),
        },
        {
            "api_key_hash": "k2",
            "request_count": 2,
            "total_tokens": 50,
            "total_cost_usd": 0.25,
            "last_active_at": at(7, 12),
        },
        {
            "api_key_hash": "k3",
            "request_count": 1,
            "total_tokens": 75,
            "total_cost_usd": 0.125,
            "last_active_at": at(13, 0),
        },
    ]


async def test_daily_usage_series(store: SqlTraceStore) -> None:
    async with store.connect() as conn:
        series = (await usage_series(conn, DEFAULT, None, Bucket.DAY)).as_dict()

    assert series == {
        "bucket": "day",
        "items": [
            {"bucket_start": at(6, 0), "input_tokens": 310, "output_tokens": 150, "total_tokens": 460},
            {"bucket_start": at(7, 0), "input_tokens": 40, "output_tokens": 0, "total_tokens": 40},
            {"bucket_start": at(8, 0), "input_tokens": 300, "output_tokens": 200, "total_tokens": 500},
            {"bucket_start": at(12, 0), "input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
            {"bucket_start": at(13, 0), "input_tokens": 50, "output_tokens": 25, "total_tokens": 75},
        ],
    }


async def test_weeks_start_on_monday_in_utc(store: SqlTraceStore) -> None:
    async with store.connect() as conn:
        series = (await usage_series(conn, DEFAULT, None, Bucket.WEEK)).as_dict()

    # Sunday 23:59:59 (row 6) stays in the week of Monday the 6th; Monday 00:00 (row 7) opens the next.
    assert series["items"] == [
        {"bucket_start": at(6, 0), "input_tokens": 650, "output_tokens": 350, "total_tokens": 1000},
        {"bucket_start": at(13, 0), "input_tokens": 50, "output_tokens": 25, "total_tokens": 75},
    ]


async def test_hourly_series_grouped_by_provider(store: SqlTraceStore) -> None:
    day = AnalyticsFilter(since=at(6, 0), until=at(6, 23, 59, 59), scope=DEFAULT.scope)
    async with store.connect() as conn:
        series = (await usage_series(conn, day, GroupBy.PROVIDER, Bucket.HOUR)).as_dict()

    assert series == {
        "group_by": "provider",
        "bucket": "hour",
        "items": [
            {
                "bucket_start": at(6, 9),
                "group": "openai",
                "input_tokens": 300,
                "output_tokens": 150,
                "total_tokens": 450,
            },
            {
                "bucket_start": at(6, 10),
                "group": "anthropic",
                "input_tokens": 10,
                "output_tokens": 0,
                "total_tokens": 10,
            },
        ],
    }


async def test_daily_cost_series_by_model_orders_groups_within_a_bucket(store: SqlTraceStore) -> None:
    async with store.connect() as conn:
        series = (await cost_series(conn, DEFAULT, GroupBy.MODEL, Bucket.DAY)).as_dict()

    def point(day: int, model: str, total: float, count: int) -> dict[str, object]:
        return {
            "bucket_start": at(day, 0),
            "group": model,
            "total_cost_usd": total,
            "request_count": count,
            "avg_cost_usd": total / count,
        }

    assert series["items"] == [
        point(6, "claude-3-5-sonnet", 0.0, 1),
        point(6, "gpt-4o", 1.5, 2),
        point(7, "gpt-4o-mini", 0.25, 1),
        point(8, "claude-3-5-sonnet", 2.0, 1),
        point(12, "gpt-4o", 0.0, 1),
        point(13, "gpt-4o", 0.125, 1),
    ]


async def test_latency_by_provider_interpolates_percentiles(store: SqlTraceStore) -> None:
    async with store.connect() as conn:
        stats = (await latency_stats(conn, DEFAULT, GroupBy.PROVIDER)).as_dict()

    assert stats == {
        "group_by": "provider",
        "items": [
            # openai sorted [0, 100, 200, 300, 1000]: p95 rank 3.8 → 300 + .8·700, p99 rank 3.96
            {
                "group": "openai",
                "request_count": 5,
                "avg_ms": 320.0,
                "min_ms": 0,
                "max_ms": 1000,
                "p50_ms": 200.0,
                "p95_ms": 860.0,
                "p99_ms": 972.0,
            },
            # anthropic [50, 400]: p50 rank .5, p95 rank .95, p99 rank .99
            {
                "group": "anthropic",
                "request_count": 2,
                "avg_ms": 225.0,
                "min_ms": 50,
                "max_ms": 400,
                "p50_ms": 225.0,
                "p95_ms": 382.5,
                "p99_ms": 396.5,
            },
        ],
    }


async def test_latency_by_key_uses_the_gateway_key_and_omits_an_empty_group(store: SqlTraceStore) -> None:
    async with store.connect() as conn:
        items = (await latency_stats(conn, DEFAULT, GroupBy.KEY)).as_dict()["items"]

    assert [(i.get("group"), i["request_count"]) for i in items] == [
        ("gk_a", 3),
        ("gk_b", 2),
        (None, 1),  # row 4 has no gateway key: count tie with gk_c, and "" sorts first
        ("gk_c", 1),
    ]
    assert items[0] | {} == {
        "group": "gk_a",
        "request_count": 3,
        "avg_ms": 100.0,
        "min_ms": 0,
        "max_ms": 200,
        "p50_ms": 100.0,
        "p95_ms": 190.0,
        "p99_ms": 198.0,
    }
    assert items[2] == {
        "request_count": 1,
        "avg_ms": 1000.0,
        "min_ms": 1000,
        "max_ms": 1000,
        "p50_ms": 1000.0,
        "p95_ms": 1000.0,
        "p99_ms": 1000.0,
    }


async def test_errors_by_route_and_overall(store: SqlTraceStore) -> None:
    async with store.connect() as conn:
        by_route = (await error_stats(conn, DEFAULT, GroupBy.ROUTE)).as_dict()
        overall = (await error_stats(conn, DEFAULT, None)).as_dict()

    assert by_route == {
        "group_by": "route",
        "items": [
            {
                "group": OPENAI_PATH,
                "total_requests": 5,
                "error_count_4xx": 1,
                "error_count_5xx": 1,
                "error_rate": 0.4,
            },
            {
                "group": ANTHROPIC_PATH,
                "total_requests": 2,
                "error_count_4xx": 1,
                "error_count_5xx": 0,
                "error_rate": 0.5,
            },
        ],
    }
    assert overall == {
        "items": [{"total_requests": 7, "error_count_4xx": 2, "error_count_5xx": 1, "error_rate": 3 / 7}]
    }


async def test_filters_narrow_every_query(store: SqlTraceStore) -> None:
    window = AnalyticsFilter(since=at(7, 0), until=datetime(2025, 1, 8, 23, 59, 59, 999999, tzinfo=UTC))
    anthropic = AnalyticsFilter(provider="anthropic", scope=DEFAULT.scope)
    async with store.connect() as conn:
        in_window = (await summary(conn, window)).as_dict()
        only_anthropic = [m.model for m in await model_stats(conn, anthropic)]
        one_model = (await usage_summary(conn, AnalyticsFilter(model="gpt-4o-mini"))).as_dict()

    # rows 4, 5 (default) and 9 (acme)
    assert (in_window["total_requests"], in_window["total_tokens"], in_window["top_model"]) == (
        3,
        545,
        "claude-3-5-sonnet",
    )
    assert only_anthropic == ["claude-3-5-sonnet"]
    assert one_model["total_tokens"] == 40


async def test_an_empty_range_gives_zeros_and_empty_lists(store: SqlTraceStore) -> None:
    nothing = AnalyticsFilter(since=datetime(2030, 1, 1, tzinfo=UTC))
    async with store.connect() as conn:
        overview = (await summary(conn, nothing)).as_dict()
        latency = (await latency_stats(conn, nothing, None)).as_dict()
        grouped = (await latency_stats(conn, nothing, GroupBy.MODEL)).as_dict()
        errors = (await error_stats(conn, nothing, None)).as_dict()
        series = (await cost_series(conn, nothing, None, Bucket.DAY)).as_dict()

    assert overview == {
        "total_requests": 0,
        "total_input_tokens": 0,
        "total_output_tokens": 0,
        "total_tokens": 0,
        "total_cost_usd": 0.0,
        "active_keys": 0,
    }
    assert latency == {
        "items": [
            {
                "request_count": 0,
                "avg_ms": 0.0,
                "min_ms": 0,
                "max_ms": 0,
                "p50_ms": 0.0,
                "p95_ms": 0.0,
                "p99_ms": 0.0,
            }
        ]
    }
    assert grouped == {"group_by": "model", "items": []}
    assert errors == {
        "items": [{"total_requests": 0, "error_count_4xx": 0, "error_count_5xx": 0, "error_rate": 0.0}]
    }
    assert series == {"bucket": "day", "items": []}


async def test_all_errors_is_a_rate_of_one(store: SqlTraceStore) -> None:
    failing = AnalyticsFilter(model="gpt-4o-mini")  # row 4 only, a 500
    async with store.connect() as conn:
        errors = (await error_stats(conn, failing, GroupBy.MODEL)).as_dict()

    assert errors["items"] == [
        {
            "group": "gpt-4o-mini",
            "total_requests": 1,
            "error_count_4xx": 0,
            "error_count_5xx": 1,
            "error_rate": 1.0,
        }
    ]
