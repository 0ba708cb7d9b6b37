"""`/api/traces` pages filtered by time: sorting the `timestamp` range gives exactly the `created_at` walk's
pages (issue 3 "Performance"), whatever the two orders disagree on, on both backends."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from ongoingai.query import Cursor, TenantScope, TraceFilter
from ongoingai.query.traces import list_query, page_query, range_sorted_query
from ongoingai.store import SqlTraceStore
from tests.fakes.trace_records import make_record

START = datetime(2025, 5, 1, tzinfo=UTC)


@pytest.fixture
async def mixed(trace_store: SqlTraceStore) -> SqlTraceStore:
    """60 traces over 60 hours; created_at mostly = timestamp, some replayed days later, some tied."""
    rng = random.Random(3)
    records = []
    for n in range(60):
        at = START + timedelta(hours=n, minutes=rng.randrange(60))
        created = at + rng.choice([timedelta(0), timedelta(0), timedelta(days=3), timedelta(seconds=-5)])
        if n % 7 == 0:
            created = START + timedelta(hours=30)  # ties on created_at: id breaks them
        tenant = ("acme", "prod") if n % 4 == 0 else ("default", "default")
        records.append(
            make_record(n + 1, timestamp=at, created_at=created, org_id=tenant[0], workspace_id=tenant[1])
        )
    assert (await trace_store.write_batch(records)).written == 60
    return trace_store


async def all_pages(conn: AsyncConnection, f: TraceFilter, build: Any) -> list[str]:
    ids: list[str] = []
    while True:
        rows = (await conn.execute(build(f))).mappings().all()
        ids += [row["id"] for row in rows[: f.limit]]
        if len(rows) <= f.limit:
            return ids
        last = rows[f.limit - 1]
        f = replace(f, cursor=Cursor(last["created_at"], last["id"]))


FILTERS = {
    "from-to": TraceFilter(limit=4, since=START + timedelta(hours=10), until=START + timedelta(hours=40)),
    "to only": TraceFilter(limit=5, until=START + timedelta(hours=20, minutes=30)),
    "from only": TraceFilter(limit=3, since=START + timedelta(hours=50)),
    "scoped": TraceFilter(
        limit=2, since=START, until=START + timedelta(hours=59), scope=TenantScope("acme", "prod")
    ),
    "empty": TraceFilter(limit=2, since=START + timedelta(days=30)),
}


@pytest.mark.parametrize("name", FILTERS)
async def test_sorting_the_range_pages_exactly_like_walking_created_at(
    mixed: SqlTraceStore, name: str
) -> None:
    f = FILTERS[name]
    async with mixed.connect() as conn:
        walked = await all_pages(conn, f, list_query)
        sorted_range = await all_pages(conn, f, lambda f: range_sorted_query(f, conn.dialect.name))
        materialized = await all_pages(conn, f, lambda f: range_sorted_query(f, "postgresql"))

    assert sorted_range == walked
    assert materialized == walked  # the CTE form is valid SQL on SQLite too
    assert len(set(walked)) == len(walked)


async def test_an_old_or_empty_range_is_sorted_and_a_recent_one_walked(mixed: SqlTraceStore) -> None:
    async with mixed.connect() as conn:
        old = await page_query(conn, TraceFilter(until=START + timedelta(hours=5)))
        future = await page_query(conn, TraceFilter(since=START + timedelta(days=30)))
        recent = await page_query(conn, TraceFilter(since=START + timedelta(hours=55)))
        with_model = await page_query(conn, TraceFilter(model="gpt-4o", until=START + timedelta(hours=5)))

    assert "in_range" in str(old) and "in_range" in str(future)
    assert "in_range" not in str(recent) and "in_range" not in str(with_model)
