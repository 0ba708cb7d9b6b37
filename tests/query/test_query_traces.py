"""Trace list/detail queries on both backends: every filter, time edges, cursor paging, tenant scope."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ongoingai.query import TenantScope, TraceFilter, count_traces, decode_cursor, get_trace, list_traces
from ongoingai.store import SqlTraceStore
from ongoingai.traces import TraceRecord
from tests.fakes.trace_records import T0, make_record, trace_id

DAY = datetime(2025, 1, 2, tzinfo=UTC)


async def ids_for(store: SqlTraceStore, f: TraceFilter) -> list[str]:
    async with store.connect() as conn:
        return [r.id for r in (await list_traces(conn, f)).items]


def numbered(*numbers: int) -> list[str]:
    return [trace_id(n) for n in numbers]


@pytest.fixture
async def varied(trace_store: SqlTraceStore) -> SqlTraceStore:
    records = [
        make_record(1, provider="anthropic", model="claude-3-5-haiku", response_status=500, total_tokens=10),
        make_record(2, api_key_hash="cd" * 32, total_tokens=100, trace_group_id="g1"),
        make_record(3, total_tokens=1000, metadata={"lineage_thread_id": "th", "lineage_run_id": "ru"}),
        make_record(4, org_id="acme", workspace_id="w1", trace_group_id="g1", total_tokens=5000),
    ]
    result = await trace_store.write_batch(records)
    assert result.written == 4
    return trace_store


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (TraceFilter(), numbered(4, 3, 2, 1)),
        (TraceFilter(provider="anthropic"), numbered(1)),
        (TraceFilter(model="gpt-4o-mini"), numbered(4, 3, 2)),
        (TraceFilter(api_key_hash="cd" * 32), numbered(2)),
        (TraceFilter(status=500), numbered(1)),
        (TraceFilter(trace_group_id="g1"), numbered(4, 2)),
        (TraceFilter(thread_id="th"), numbered(3)),
        (TraceFilter(run_id="ru"), numbered(3)),
        (TraceFilter(min_tokens=100), numbered(4, 3, 2)),
        (TraceFilter(max_tokens=100), numbered(2, 1)),
        (TraceFilter(min_tokens=100, max_tokens=1000), numbered(3, 2)),
        (TraceFilter(scope=TenantScope("acme", "w1")), numbered(4)),
        (TraceFilter(scope=TenantScope("default", "default")), numbered(3, 2, 1)),
        (TraceFilter(provider="openai", trace_group_id="g1", min_tokens=1000), numbered(4)),
        (TraceFilter(limit=2), numbered(4, 3)),
    ],
    ids=lambda v: repr(v) if isinstance(v, TraceFilter) else "",
)
async def test_each_filter_selects_exactly_its_traces(
    varied: SqlTraceStore, f: TraceFilter, expected: list[str]
) -> None:
    assert await ids_for(varied, f) == expected


async def test_time_range_is_inclusive_at_both_ends(varied: SqlTraceStore) -> None:
    at2 = T0 + timedelta(seconds=2)
    at3 = T0 + timedelta(seconds=3)

    assert await ids_for(varied, TraceFilter(since=at2, until=at3)) == numbered(3, 2)
    assert await ids_for(varied, TraceFilter(since=at3 + timedelta(microseconds=1))) == numbered(4)
    assert await ids_for(varied, TraceFilter(until=at2 - timedelta(microseconds=1))) == numbered(1)


async def test_a_date_only_to_reaches_the_end_of_that_day(trace_store: SqlTraceStore) -> None:
    late = DAY + timedelta(hours=23, minutes=59, seconds=59, microseconds=999_999)
    await trace_store.write_batch(
        [make_record(1, timestamp=late), make_record(2, timestamp=DAY + timedelta(days=1))]
    )
    end_of_day = DAY.replace(hour=23, minute=59, second=59, microsecond=999_999)

    assert await ids_for(trace_store, TraceFilter(since=DAY, until=end_of_day)) == numbered(1)


async def test_an_offset_time_filter_compares_as_utc(trace_store: SqlTraceStore) -> None:
    await trace_store.write_batch([make_record(1, timestamp=DAY + timedelta(hours=10))])
    plus_two = timezone(timedelta(hours=2))

    assert await ids_for(
        trace_store, TraceFilter(since=datetime(2025, 1, 2, 12, tzinfo=plus_two))
    ) == numbered(1)
    assert await ids_for(trace_store, TraceFilter(since=datetime(2025, 1, 2, 12, 1, tzinfo=plus_two))) == []


async def test_cursor_pages_cover_equal_timestamps_once_each(trace_store: SqlTraceStore) -> None:
    same = [make_record(n, created_at=T0) for n in range(1, 8)]
    await trace_store.write_batch(
        [*same, make_record(20), replace(make_record(0), created_at=T0 - timedelta(1))]
    )
    seen: list[str] = []
    f = TraceFilter(limit=3)
    async with trace_store.connect() as conn:
        while True:
            page = await list_traces(conn, f)
            seen.extend(r.id for r in page.items)
            if page.next_cursor is None:
                break
            f = replace(f, cursor=decode_cursor(page.next_cursor))

    assert seen == numbered(20, 7, 6, 5, 4, 3, 2, 1, 0)


async def test_the_last_page_has_no_cursor(varied: SqlTraceStore) -> None:
    async with varied.connect() as conn:
        exact = await list_traces(conn, TraceFilter(limit=4))
        more = await list_traces(conn, TraceFilter(limit=3))

    assert exact.next_cursor is None
    assert more.next_cursor is not None


async def test_list_items_leave_out_bodies_headers_and_metadata(varied: SqlTraceStore) -> None:
    async with varied.connect() as conn:
        item = (await list_traces(conn, TraceFilter(limit=1))).items[0]

    assert (item.request_body, item.response_body, item.metadata, item.request_headers) == ("", "", {}, {})
    assert item.total_tokens == 5000


async def test_detail_reads_the_whole_trace(varied: SqlTraceStore) -> None:
    async with varied.connect() as conn:
        record = await get_trace(conn, trace_id(3))

    assert isinstance(record, TraceRecord)
    assert record == make_record(
        3, total_tokens=1000, metadata={"lineage_thread_id": "th", "lineage_run_id": "ru"}
    )


async def test_detail_of_another_tenant_reads_as_missing(varied: SqlTraceStore) -> None:
    async with varied.connect() as conn:
        other = await get_trace(conn, trace_id(4), TenantScope("default", "default"))
        own = await get_trace(conn, trace_id(4), TenantScope("acme", "w1"))
        missing = await get_trace(conn, "nope")

    assert (other, missing) == (None, None)
    assert own is not None


async def test_count_is_unscoped(varied: SqlTraceStore) -> None:
    async with varied.connect() as conn:
        assert await count_traces(conn) == 4
