"""The hourly rollups move with the trace inserts: same transaction, batched, never counted twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from ongoingai.store import SqlTraceStore
from ongoingai.store.rollup import rollup_cells, upsert_sql
from ongoingai.store.rows import row_from_record
from ongoingai.store.tables import trace_rollups_daily, trace_rollups_hourly
from tests.fakes.trace_records import make_record

H9 = datetime(2025, 3, 4, 9, tzinfo=UTC)
NOW = datetime(2025, 3, 5, tzinfo=UTC)


def at(minutes: float, **overrides: Any) -> Any:
    when = H9 + timedelta(minutes=minutes)
    return make_record(int(minutes * 1000) + 1, timestamp=when, created_at=when, **overrides)


async def rollup_rows(store: SqlTraceStore, table: sa.Table = trace_rollups_hourly) -> list[dict[str, Any]]:
    async with store.connect() as conn:
        query = sa.select(table).order_by(*table.primary_key.columns)
        return [dict(row) for row in (await conn.execute(query)).mappings()]


def test_a_batch_is_summed_per_hour_and_dimension_before_it_is_upserted() -> None:
    records = [
        at(1, response_status=200, latency_ms=100),
        at(59, response_status=429, latency_ms=300, gateway_key_id="gk_1"),
        at(59.5, response_status=503, latency_ms=50, gateway_key_id="gk_1"),
        at(61, response_status=404),
    ]

    cells = rollup_cells([row_from_record(r, NOW) for r in records])

    key_a = (H9, "default", "default", "openai", "gpt-4o-mini", "ab" * 32, "")
    key_b = (*key_a[:-1], "gk_1")
    key_c = (H9 + timedelta(hours=1), *key_a[1:])
    assert set(cells) == {key_a, key_b, key_c}
    b = cells[key_b]
    assert (b.request_count, b.latency_ms_sum, b.error_4xx, b.error_5xx) == (2, 350, 1, 1)
    assert b.last_created_at == H9 + timedelta(minutes=59.5)
    assert (cells[key_c].request_count, cells[key_c].error_4xx) == (1, 1)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_upsert_adds_to_an_existing_row_and_keeps_the_latest_created_at(dialect: str) -> None:
    sql = upsert_sql(dialect)

    assert (
        "ON CONFLICT (bucket_start, org_id, workspace_id, provider, model, api_key_hash, gateway_key_id)"
        in sql
    )
    assert "request_count = trace_rollups_hourly.request_count + excluded.request_count" in sql
    latest = "GREATEST" if dialect == "postgresql" else "MAX"
    assert (
        f"last_created_at = {latest}(trace_rollups_hourly.last_created_at, excluded.last_created_at)" in sql
    )


async def test_writes_add_up_across_batches(trace_store: SqlTraceStore) -> None:
    first = [at(5, input_tokens=10, output_tokens=5, total_tokens=15, estimated_cost_usd=0.5)]
    second = [
        at(6, input_tokens=1, output_tokens=2, total_tokens=0, estimated_cost_usd=0.25, latency_ms=7),
        at(7, response_status=500, time_to_first_token_ms=30, time_to_first_token_us=0, latency_ms=9),
    ]

    await trace_store.write_batch(first)
    await trace_store.write_batch(second)

    [row] = await rollup_rows(trace_store)
    [day] = await rollup_rows(trace_store, trace_rollups_daily)
    assert row["bucket_start"] == H9
    assert day["bucket_start"] == H9.replace(hour=0)
    assert {k: v for k, v in day.items() if k != "bucket_start"} == {
        k: v for k, v in row.items() if k != "bucket_start"
    }
    assert (row["request_count"], row["input_tokens"], row["output_tokens"]) == (3, 23, 37)
    # total 0 → input + output on write (traces-and-lineage.md §1), as the trace row stores it.
    assert row["total_tokens"] == 15 + 3 + 42
    assert row["cost_usd"] == 0.5 + 0.25 + 0.000123
    assert (row["latency_ms_sum"], row["ttft_ms_sum"], row["error_4xx"], row["error_5xx"]) == (366, 30, 0, 1)
    assert row["last_created_at"] == H9 + timedelta(minutes=7)


async def test_a_replayed_batch_counts_only_the_traces_not_stored_yet(trace_store: SqlTraceStore) -> None:
    landed = [at(1), at(2)]
    await trace_store.write_batch(landed)
    replay = [*landed, at(3), at(3)]  # the journal holds the two that landed, a new one, and a repeat

    result = await trace_store.write_batch(replay, idempotent=True)

    assert result.failures == ()
    [row] = await rollup_rows(trace_store)
    [day] = await rollup_rows(trace_store, trace_rollups_daily)
    assert (row["request_count"], day["request_count"]) == (3, 3)


async def test_a_batch_that_fails_leaves_the_rollups_as_they_were(trace_store: SqlTraceStore) -> None:
    await trace_store.write_batch([at(1)])
    duplicate = replace(at(2), id=at(1).id)  # the batch fails on the primary key, then record by record

    result = await trace_store.write_batch([at(3, model="gpt-4o"), duplicate])

    assert result.written == 1
    assert result.failed_count == 1
    rows = await rollup_rows(trace_store)
    assert {(row["model"], row["request_count"]) for row in rows} == {("gpt-4o-mini", 1), ("gpt-4o", 1)}


async def test_tenants_keys_and_hours_are_separate_rows(trace_store: SqlTraceStore) -> None:
    await trace_store.write_batch(
        [
            at(1, org_id="acme", workspace_id="prod"),
            at(2, api_key_hash=""),
            at(3, metadata={"gateway_key_id": "gk_meta"}),
            at(4),
            at(70),
        ]
    )

    rows = await rollup_rows(trace_store)
    days = await rollup_rows(trace_store, trace_rollups_daily)

    assert len(days) == 4  # the last two traces: one key, two hours, one day
    keys = {(r["bucket_start"].hour, r["org_id"], r["api_key_hash"][:2], r["gateway_key_id"]) for r in rows}
    assert keys == {
        (9, "acme", "ab", ""),
        (9, "default", "", ""),
        (9, "default", "ab", "gk_meta"),
        (9, "default", "ab", ""),
        (10, "default", "ab", ""),
    }
