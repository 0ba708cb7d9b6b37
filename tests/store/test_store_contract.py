"""Storage contract: the same behaviour on SQLite and Postgres (the `backend` fixture runs each on both)."""

from __future__ import annotations

import asyncio
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ongoingai.config import Settings
from ongoingai.store import MigrationState, SqlTraceStore, StoreUnavailable, open_trace_store
from ongoingai.store.rows import record_from_row
from ongoingai.store.tables import traces
from ongoingai.traces import TraceRecord
from tests.fakes.storage import storage_settings
from tests.fakes.trace_records import T0, make_record, trace_id


async def read_all(store: SqlTraceStore) -> dict[str, TraceRecord]:
    async with store.connect() as conn:
        rows = (await conn.execute(sa.select(traces))).mappings().all()
    return {row["id"]: record_from_row(row) for row in rows}


async def raw(store: SqlTraceStore, sql: str) -> list[Any]:
    async with store.connect() as conn:
        return list((await conn.execute(sa.text(sql))).all())


async def test_every_field_round_trips(trace_store: SqlTraceStore) -> None:
    record = make_record(
        7,
        trace_group_id="group-1",
        org_id="acme",
        workspace_id="research",
        response_status=429,
        time_to_first_token_ms=12,
        time_to_first_token_us=11_500,
        gateway_key_id="gk_1",
        estimated_cost_usd=1.25,
        metadata={**make_record(7).metadata, "lineage_thread_id": "t1", "lineage_run_id": "r1", "n": 3},
    )

    result = await trace_store.write_batch([record])

    assert (result.written, result.failures) == (1, ())
    assert (await read_all(trace_store))[record.id] == record


async def test_write_applies_the_spec_defaults(trace_store: SqlTraceStore) -> None:
    record = make_record(
        1,
        org_id="",
        workspace_id="",
        total_tokens=0,
        time_to_first_token_us=1_001,
        created_at=None,
        metadata={"gateway_key_id": "gk_meta"},
    )

    await trace_store.write_batch([record])
    stored = (await read_all(trace_store))[record.id]

    assert (stored.org_id, stored.workspace_id) == ("default", "default")
    assert stored.total_tokens == record.input_tokens + record.output_tokens
    assert (stored.time_to_first_token_ms, stored.time_to_first_token_us) == (2, 1_001)
    assert stored.gateway_key_id == "gk_meta"
    assert stored.created_at is not None and stored.created_at > T0


async def test_lineage_metadata_fills_the_lineage_columns(trace_store: SqlTraceStore) -> None:
    meta = {"lineage_thread_id": "thread-a", "lineage_run_id": "run-b"}
    await trace_store.write_batch([make_record(1, metadata=meta), make_record(2)])

    rows = await raw(trace_store, "SELECT id, lineage_thread_id, lineage_run_id FROM traces ORDER BY id")

    assert [tuple(r) for r in rows] == [(trace_id(1), "thread-a", "run-b"), (trace_id(2), None, None)]


async def test_a_duplicate_single_write_fails_as_constraint(trace_store: SqlTraceStore) -> None:
    await trace_store.write_batch([make_record(1)])

    result = await trace_store.write_batch([make_record(1)])

    assert result.written == 0
    [failure] = result.failures
    assert (failure.operation, failure.error_class, len(failure.records)) == ("write_trace", "constraint", 1)


async def test_a_bad_record_in_a_batch_falls_back_to_one_by_one(trace_store: SqlTraceStore) -> None:
    await trace_store.write_batch([make_record(2)])

    result = await trace_store.write_batch([make_record(1), make_record(2), make_record(3)])

    assert result.written == 2
    [failure] = result.failures
    assert failure.operation == "write_batch_fallback"
    assert failure.error_class == "constraint"
    assert [r.id for r in failure.records] == [trace_id(2)]
    assert sorted(await read_all(trace_store)) == [trace_id(1), trace_id(2), trace_id(3)]


async def test_idempotent_writes_skip_records_already_stored(trace_store: SqlTraceStore) -> None:
    await trace_store.write_batch([make_record(1)])

    result = await trace_store.write_batch([make_record(1), make_record(2)], idempotent=True)

    assert (result.written, result.failures) == (2, ())
    assert len(await read_all(trace_store)) == 2


async def test_concurrent_writers_lose_nothing(trace_store: SqlTraceStore, store_settings: Settings) -> None:
    second = await open_trace_store(store_settings)
    batches = [[make_record(b * 100 + i) for i in range(25)] for b in range(8)]
    try:
        results = await asyncio.gather(
            *(
                store.write_batch(batch)
                for store, batch in zip([trace_store, second] * 4, batches, strict=True)
            )
        )
    finally:
        await second.close()

    assert sum(r.written for r in results) == 200
    assert len(await read_all(trace_store)) == 200


async def test_nul_characters_do_not_lose_the_trace(trace_store: SqlTraceStore) -> None:
    record = make_record(1, response_body="a\x00b", metadata={"note": "x\x00y"})

    result = await trace_store.write_batch([record])

    assert result.written == 1
    stored = (await read_all(trace_store))[record.id]
    assert stored.response_body in ("a\x00b", "a\ufffdb")


async def test_a_fresh_store_reports_current_migrations(trace_store: SqlTraceStore) -> None:
    assert await trace_store.migration_status() is MigrationState.CURRENT


async def test_opening_without_migrating_reports_schema_behind(empty_store_settings: Settings) -> None:
    store = await open_trace_store(empty_store_settings, migrate=False)
    try:
        assert await store.migration_status() is MigrationState.BEHIND
    finally:
        await store.close()


async def test_json_columns_use_the_backend_type(trace_store: SqlTraceStore) -> None:
    await trace_store.write_batch([make_record(1)])
    if trace_store.driver == "postgres":
        rows = await raw(
            trace_store, "SELECT pg_typeof(metadata)::text, pg_typeof(request_headers)::text FROM traces"
        )
        assert tuple(rows[0]) == ("jsonb", "jsonb")
    else:
        rows = await raw(trace_store, "SELECT typeof(metadata), typeof(request_headers) FROM traces")
        assert tuple(rows[0]) == ("text", "text")


async def test_sqlite_stores_fixed_width_utc_text(tmp_path: Path) -> None:
    store = await open_trace_store(storage_settings("sqlite", tmp_path))
    try:
        await store.write_batch([make_record(1), make_record(2, timestamp=T0.replace(microsecond=0))])
        rows = await raw(store, "SELECT timestamp, created_at FROM traces ORDER BY id")
    finally:
        await store.close()

    assert rows[0][0] == "2025-01-02 03:04:06.123456+00:00"
    assert rows[1][0] == "2025-01-02 03:04:05.000000+00:00"
    assert {len(value) for row in rows for value in row} == {32}


async def test_sqlite_folder_and_file_are_owner_only(tmp_path: Path) -> None:
    settings = storage_settings("sqlite", tmp_path)
    store = await open_trace_store(settings)
    await store.close()

    db = Path(settings.storage.path)
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


async def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = await open_trace_store(storage_settings("sqlite", tmp_path))
    try:
        rows = await raw(store, "PRAGMA journal_mode")
        sync = await raw(store, "PRAGMA synchronous")
        busy = await raw(store, "PRAGMA busy_timeout")
    finally:
        await store.close()

    assert (rows[0][0], sync[0][0], busy[0][0]) == ("wal", 1, 5000)


async def test_an_unreachable_postgres_fails_to_open(tmp_path: Path) -> None:
    settings = storage_settings("postgres", tmp_path, "postgresql://postgres@127.0.0.1:1/none")

    with pytest.raises(StoreUnavailable, match="postgres storage"):
        await open_trace_store(settings)


async def test_a_record_in_the_future_and_the_past_keep_their_instant(trace_store: SqlTraceStore) -> None:
    early = make_record(1, timestamp=T0.replace(year=1999), created_at=T0.replace(year=1999))
    late = replace(make_record(2), timestamp=T0.replace(year=2099))

    await trace_store.write_batch([early, late])
    stored = await read_all(trace_store)

    assert stored[early.id].timestamp == early.timestamp
    assert stored[late.id].timestamp == late.timestamp
