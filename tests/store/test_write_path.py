"""The batch write path: SQLite's writer thread and checkpointer, the Postgres one-statement batch."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from ongoingai.store import SqlTraceStore, open_trace_store
from ongoingai.store.columns import format_sqlite_time
from ongoingai.store.rows import json_text_for_postgres, row_from_record
from ongoingai.store.tables import traces
from ongoingai.store.writes import postgres_arrays, postgres_batch_sql, sqlite_time
from ongoingai.traces import TraceRecord
from tests.fakes.storage import storage_settings
from tests.fakes.trace_records import T0, make_record


@pytest.mark.parametrize(
    "value",
    [
        T0,
        T0.replace(microsecond=0),
        T0.astimezone(timezone(timedelta(hours=-5))),
        T0.replace(tzinfo=None),
        datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ],
    ids=["utc", "whole-second", "offset", "naive", "year-999"],
)
def test_the_fast_sqlite_time_is_the_stored_form(value: datetime) -> None:
    assert sqlite_time(value) == format_sqlite_time(value)


def test_a_nul_free_document_is_passed_through_and_a_nul_is_replaced_everywhere() -> None:
    clean = make_record(1)
    dirty = make_record(2, metadata={"k\x00": ["a\x00", {"b": "c\x00"}]}, model="m\x00")

    clean_row = row_from_record(clean, T0, postgres=True)
    dirty_row = row_from_record(dirty, T0, postgres=True)

    assert clean_row["metadata"] is clean.metadata
    assert dirty_row["model"] == "m\ufffd"
    # The JSON documents are cleaned as they are serialised for the batch's arrays.
    clean_sent, dirty_sent = postgres_arrays([clean_row, dirty_row])[
        list(traces.columns.keys()).index("metadata")
    ]
    assert orjson.loads(clean_sent) == clean.metadata
    assert orjson.loads(dirty_sent) == {"k\ufffd": ["a\ufffd", {"b": "c\ufffd"}]}
    assert json_text_for_postgres({"path": "C:\\u0000"}) == '{"path":"C:\\\\u0000"}'  # an escaped backslash


def test_the_postgres_batch_is_one_statement_with_an_array_per_column() -> None:
    rows = [row_from_record(make_record(n), T0, postgres=True) for n in (1, 2)]

    arrays = postgres_arrays(rows)

    sql = postgres_batch_sql(idempotent=True)
    assert sql.count("::jsonb") == 3 and sql.endswith('ON CONFLICT ("id") DO NOTHING')
    assert sql.count("[]") == len(arrays)
    assert arrays[0] == [make_record(1).id, make_record(2).id]


async def test_closing_the_store_right_after_writes_returns(tmp_path: Path) -> None:
    # A close that lands while the checkpointer waits out its interval must still stop it.
    for round_ in range(3):
        store = await open_trace_store(storage_settings("sqlite", tmp_path))
        assert (await store.write_batch([make_record(100 * round_ + n) for n in range(5)])).written == 5
        async with asyncio.timeout(30):  # a bound on a hang, not a timing assertion
            await store.close()


async def test_sqlite_commits_are_checkpointed_into_the_database_file(tmp_path: Path) -> None:
    settings = storage_settings("sqlite", tmp_path)
    store = await open_trace_store(settings)
    try:
        assert (await store.write_batch([make_record(n) for n in range(1, 65)])).written == 64
    finally:
        await store.close()

    # With every connection closed the WAL is gone: the rows must be in the main file itself.
    assert not Path(settings.storage.path + "-wal").exists()
    conn = sqlite3.connect(settings.storage.path)
    try:
        assert conn.execute("SELECT count(*) FROM traces").fetchone() == (64,)
    finally:
        conn.close()


async def test_a_batch_written_by_the_thread_is_visible_to_readers_at_once(
    trace_store: SqlTraceStore,
) -> None:
    await trace_store.write_batch([make_record(n) for n in range(1, 4)])

    async with trace_store.connect() as conn:
        ids = (await conn.scalars(sa.text("SELECT id FROM traces ORDER BY id"))).all()
    assert ids == [make_record(n).id for n in range(1, 4)]


async def test_a_writer_blocked_by_another_process_lock_waits_and_then_writes(tmp_path: Path) -> None:
    settings = storage_settings("sqlite", tmp_path)
    store = await open_trace_store(settings)
    other = sqlite3.connect(settings.storage.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        pending = asyncio.ensure_future(store.write_batch([make_record(1), make_record(2)]))
        await asyncio.sleep(0.05)
        other.execute("COMMIT")
        result = await pending
    finally:
        other.close()
        await store.close()

    assert (result.written, result.failures) == (2, ())


async def test_batches_handed_over_while_the_thread_waits_share_one_transaction(tmp_path: Path) -> None:
    settings = storage_settings("sqlite", tmp_path)
    store = await open_trace_store(settings)
    other = sqlite3.connect(settings.storage.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # the thread waits for the lock with the first batch in hand
        writes = [
            asyncio.ensure_future(store.write_batch([make_record(10 * b + n) for n in range(1, 4)]))
            for b in range(3)
        ]
        await asyncio.sleep(0.05)
        other.execute("COMMIT")
        results = await asyncio.gather(*writes)
        inserter = store._sqlite
        assert inserter is not None
        assert [(r.written, r.failures) for r in results] == [(3, ())] * 3
        assert inserter.transactions == 1
    finally:
        other.close()
        await store.close()


async def test_a_bad_record_fails_its_group_and_each_batch_then_keeps_its_good_records(
    tmp_path: Path,
) -> None:
    settings = storage_settings("sqlite", tmp_path)
    store = await open_trace_store(settings)
    other = sqlite3.connect(settings.storage.path, isolation_level=None)
    try:
        assert (await store.write_batch([make_record(1)])).written == 1
        other.execute("BEGIN IMMEDIATE")
        with_duplicate = asyncio.ensure_future(store.write_batch([make_record(2), make_record(1)]))
        clean = asyncio.ensure_future(store.write_batch([make_record(3), make_record(4)]))
        await asyncio.sleep(0.05)
        other.execute("COMMIT")
        bad, good = await with_duplicate, await clean
    finally:
        other.close()

    try:
        assert bad.written == 1 and [f.error_class for f in bad.failures] == ["constraint"]
        assert [r.id for f in bad.failures for r in f.records] == [make_record(1).id]
        assert (good.written, good.failures) == (2, ())
        async with store.connect() as conn:
            ids = (await conn.scalars(sa.text("SELECT id FROM traces ORDER BY id"))).all()
        assert ids == [make_record(n).id for n in range(1, 5)]
    finally:
        await store.close()


async def test_a_batch_larger_than_one_statement_is_stored_whole_with_its_rollups(tmp_path: Path) -> None:
    settings = storage_settings("sqlite", tmp_path)
    store = await open_trace_store(settings)
    try:
        # 150 rows: statements of 64, 64 and 22; one rollup cell per model and hour.
        records = [make_record(n, model=f"m{n % 70}", input_tokens=n) for n in range(1, 151)]
        assert (await store.write_batch(records)).written == 150
        async with store.connect() as conn:
            stored = (await conn.execute(sa.text("SELECT count(*), sum(input_tokens) FROM traces"))).one()
            rolled = (
                await conn.execute(
                    sa.text("SELECT sum(request_count), sum(input_tokens) FROM trace_rollups_hourly")
                )
            ).one()
    finally:
        await store.close()
    assert tuple(stored) == (150, sum(range(1, 151)))
    assert tuple(rolled) == (150, sum(range(1, 151)))


async def test_a_writer_connection_that_cannot_open_fails_the_batch_instead_of_hanging(
    tmp_path: Path,
) -> None:
    settings = storage_settings("sqlite", tmp_path)
    store = await open_trace_store(settings)  # migrated; the writer's own connection opens on first write
    folder = Path(settings.storage.path).parent
    try:
        shutil.rmtree(folder)
        folder.write_text("a file where the database folder was")
        async with asyncio.timeout(30):  # a bound on a hang, not a timing assertion
            result = await store.write_batch([make_record(1), make_record(2)])
    finally:
        await store.close()

    assert result.written == 0
    assert sorted(r.id for f in result.failures for r in f.records) == [make_record(n).id for n in (1, 2)]


async def test_one_transaction_sums_its_batches_once_each_and_a_replay_skips_what_is_stored(
    tmp_path: Path,
) -> None:
    # The rollups are summed once per transaction over all its batches; a replayed (idempotent) batch
    # must still leave out traces stored before it, whether by an earlier commit (1), by an earlier
    # batch of the same transaction (3) or by itself (4 twice).
    settings = storage_settings("sqlite", tmp_path)
    store = await open_trace_store(settings)
    other = sqlite3.connect(settings.storage.path, isolation_level=None)
    try:
        assert (await store.write_batch([make_record(1, input_tokens=1)])).written == 1
        other.execute("BEGIN IMMEDIATE")
        fresh = asyncio.ensure_future(store.write_batch([make_record(n, input_tokens=n) for n in (2, 3)]))
        replay = asyncio.ensure_future(
            store.write_batch([make_record(n, input_tokens=n) for n in (1, 3, 4, 4)], idempotent=True)
        )
        await asyncio.sleep(0.05)
        other.execute("COMMIT")
        assert (await fresh).failures == () and (await replay).failures == ()
        inserter = store._sqlite
        assert inserter is not None and inserter.transactions == 2  # the first write, then both together
        async with store.connect() as conn:
            stored = (await conn.execute(sa.text("SELECT count(*), sum(input_tokens) FROM traces"))).one()
            sums = [
                tuple(
                    (
                        await conn.execute(sa.text(f"SELECT sum(request_count), sum(input_tokens) FROM {t}"))
                    ).one()
                )
                for t in ("trace_rollups_hourly", "trace_rollups_daily")
            ]
    finally:
        other.close()
        await store.close()
    assert tuple(stored) == (4, 1 + 2 + 3 + 4)
    assert sums == [(4, 10), (4, 10)]


async def test_a_failed_statement_leaves_no_row_of_its_transaction(tmp_path: Path) -> None:
    # The inserts are `OR FAIL` (no statement journal): rows before the failing one stay in the
    # transaction, so the writer must roll the whole transaction back, rollups included.
    settings = storage_settings("sqlite", tmp_path)
    store = await open_trace_store(settings)
    inserter = store._sqlite
    assert inserter is not None
    try:
        assert (await store.write_batch([make_record(1)])).written == 1
        with pytest.raises(sqlite3.IntegrityError):
            await inserter([make_record(2), make_record(3), make_record(1)], False)
        async with store.connect() as conn:
            ids = (await conn.scalars(sa.text("SELECT id FROM traces"))).all()
            counted = (
                await conn.execute(sa.text("SELECT sum(request_count) FROM trace_rollups_hourly"))
            ).one()
    finally:
        await store.close()
    assert ids == [make_record(1).id]
    assert tuple(counted) == (1,)


async def test_a_one_record_batch_never_shares_a_transaction(tmp_path: Path) -> None:
    # store/writes.py retries a failed batch record by record; grouped with another caller's record, a
    # bad one would fail it too. Waiting here: two one-record batches and two of two records.
    settings = storage_settings("sqlite", tmp_path)
    store = await open_trace_store(settings)
    other = sqlite3.connect(settings.storage.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        batches = [[make_record(1)], [make_record(2)], [make_record(3), make_record(4)]]
        batches += [[make_record(5), make_record(6)], [make_record(7)]]
        writes = [asyncio.ensure_future(store.write_batch(batch)) for batch in batches]
        await asyncio.sleep(0.05)
        other.execute("COMMIT")
        results = await asyncio.gather(*writes)
        inserter = store._sqlite
        assert inserter is not None
        assert [r.written for r in results] == [1, 1, 2, 2, 1]
        assert inserter.transactions == 4  # 1 | 2 | 3+4 with 5+6 | 7
    finally:
        other.close()
        await store.close()


async def test_record_by_record_retries_of_two_callers_never_fail_each_others_good_records(
    tmp_path: Path,
) -> None:
    # Both batches fail as one group (a duplicate id in the first); each caller then retries its own
    # records one at a time, at the same time as the other. Only the duplicate may fail.
    settings = storage_settings("sqlite", tmp_path)
    store = await open_trace_store(settings)
    other = sqlite3.connect(settings.storage.path, isolation_level=None)
    loop = asyncio.get_running_loop()
    insert = store._insert

    async def held_insert(records: Sequence[TraceRecord], idempotent: bool) -> None:
        # Each one-record retry finds the write lock held for a moment, so that the other caller's retry
        # is waiting too when the writer gets the lock: the two would share a transaction if they could.
        if len(records) == 1 and not other.in_transaction:
            other.execute("BEGIN IMMEDIATE")
            loop.call_later(0.03, other.execute, "COMMIT")
        await insert(records, idempotent)

    try:
        assert (await store.write_batch([make_record(1)])).written == 1
        store._insert = held_insert
        other.execute("BEGIN IMMEDIATE")
        # The clean batch first: its retries then reach the writer just before the duplicate's.
        good = asyncio.ensure_future(store.write_batch([make_record(n) for n in (5, 6, 7, 8)]))
        bad = asyncio.ensure_future(store.write_batch([make_record(n) for n in (2, 1, 3, 4)]))
        await asyncio.sleep(0.05)
        other.execute("COMMIT")
        bad_result, good_result = await bad, await good
        async with store.connect() as conn:
            stored = (await conn.scalars(sa.text("SELECT id FROM traces ORDER BY id"))).all()
    finally:
        other.close()
        await store.close()
    assert [r.id for f in bad_result.failures for r in f.records] == [make_record(1).id]
    assert (bad_result.written, good_result.written, good_result.failures) == (3, 4, ())
    assert stored == sorted(make_record(n).id for n in range(1, 9))
