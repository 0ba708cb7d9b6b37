"""The batch write path: SQLite's writer thread and checkpointer, the Postgres one-statement batch."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from ongoingai.store import SqlTraceStore, open_trace_store
from ongoingai.store.columns import format_sqlite_time
from ongoingai.store.rows import json_text_for_postgres, row_from_record
from ongoingai.store.tables import traces
from ongoingai.store.writes import WriteResult, postgres_arrays, postgres_batch_sql, sqlite_time
from ongoingai.traces import TraceRecord
from tests.fakes.storage import rollup_sums, storage_settings
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


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqlTraceStore]:
    store = await open_trace_store(storage_settings("sqlite", tmp_path))
    yield store
    await store.close()


@pytest.fixture
def other_writer(sqlite_store: SqlTraceStore) -> Iterator[sqlite3.Connection]:
    """A second connection to the store's file, to hold SQLite's write lock as another process would."""
    assert sqlite_store.path is not None
    conn = sqlite3.connect(sqlite_store.path, isolation_level=None)
    yield conn
    conn.close()


async def written_while_locked(
    lock: sqlite3.Connection, *writes: Awaitable[WriteResult]
) -> list[WriteResult]:
    """Hand `writes` over while `lock` holds the write lock (the writer thread waits with the first batch
    in hand, the others wait for it), then let go; their results in order."""
    lock.execute("BEGIN IMMEDIATE")
    pending = [asyncio.ensure_future(write) for write in writes]
    await asyncio.sleep(0.05)
    lock.execute("COMMIT")
    return list(await asyncio.gather(*pending))


def transactions_of(store: SqlTraceStore) -> int:
    inserter = store._sqlite
    assert inserter is not None
    return inserter.transactions


async def test_a_writer_blocked_by_another_process_lock_waits_and_then_writes(
    sqlite_store: SqlTraceStore, other_writer: sqlite3.Connection
) -> None:
    [result] = await written_while_locked(
        other_writer, sqlite_store.write_batch([make_record(1), make_record(2)])
    )

    assert (result.written, result.failures) == (2, ())


async def test_batches_handed_over_while_the_thread_waits_share_one_transaction(
    sqlite_store: SqlTraceStore, other_writer: sqlite3.Connection
) -> None:
    results = await written_while_locked(
        other_writer,
        *(sqlite_store.write_batch([make_record(10 * b + n) for n in range(1, 4)]) for b in range(3)),
    )

    assert [(r.written, r.failures) for r in results] == [(3, ())] * 3
    assert transactions_of(sqlite_store) == 1


async def test_a_bad_record_fails_its_group_and_each_batch_then_keeps_its_good_records(
    sqlite_store: SqlTraceStore, other_writer: sqlite3.Connection
) -> None:
    assert (await sqlite_store.write_batch([make_record(1)])).written == 1
    bad, good = await written_while_locked(
        other_writer,
        sqlite_store.write_batch([make_record(2), make_record(1)]),
        sqlite_store.write_batch([make_record(3), make_record(4)]),
    )

    assert bad.written == 1 and [f.error_class for f in bad.failures] == ["constraint"]
    assert [r.id for f in bad.failures for r in f.records] == [make_record(1).id]
    assert (good.written, good.failures) == (2, ())
    async with sqlite_store.connect() as conn:
        ids = (await conn.scalars(sa.text("SELECT id FROM traces ORDER BY id"))).all()
    assert ids == [make_record(n).id for n in range(1, 5)]


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
    sqlite_store: SqlTraceStore, other_writer: sqlite3.Connection
) -> None:
    # The rollups are summed once per transaction over all its batches; a replayed (idempotent) batch
    # must still leave out traces stored before it, whether by an earlier commit (1), by an earlier
    # batch of the same transaction (3) or by itself (4 twice).
    assert (await sqlite_store.write_batch([make_record(1, input_tokens=1)])).written == 1
    fresh, replay = await written_while_locked(
        other_writer,
        sqlite_store.write_batch([make_record(n, input_tokens=n) for n in (2, 3)]),
        sqlite_store.write_batch([make_record(n, input_tokens=n) for n in (1, 3, 4, 4)], idempotent=True),
    )

    assert fresh.failures == () and replay.failures == ()
    assert transactions_of(sqlite_store) == 2  # the first write, then both together
    async with sqlite_store.connect() as conn:
        stored = (await conn.execute(sa.text("SELECT count(*), sum(input_tokens) FROM traces"))).one()
        sums = await rollup_sums(conn)
    assert tuple(stored) == (4, 1 + 2 + 3 + 4)
    assert sums == [(4, 10), (4, 10)]


async def test_a_failed_statement_leaves_no_row_of_its_transaction(sqlite_store: SqlTraceStore) -> None:
    # The inserts are `OR FAIL` (no statement journal): rows before the failing one stay in the
    # transaction, so the writer must roll the whole transaction back, rollups included.
    inserter = sqlite_store._sqlite
    assert inserter is not None
    assert (await sqlite_store.write_batch([make_record(1)])).written == 1

    with pytest.raises(sqlite3.IntegrityError):
        await inserter([make_record(2), make_record(3), make_record(1)], False)

    async with sqlite_store.connect() as conn:
        ids = (await conn.scalars(sa.text("SELECT id FROM traces"))).all()
        counted = (await conn.execute(sa.text("SELECT sum(request_count) FROM trace_rollups_hourly"))).one()
    assert ids == [make_record(1).id]
    assert tuple(counted) == (1,)


async def test_a_one_record_batch_never_shares_a_transaction(
    sqlite_store: SqlTraceStore, other_writer: sqlite3.Connection
) -> None:
    # store/writes.py retries a failed batch record by record; grouped with another caller's record, a
    # bad one would fail it too. Waiting here: two one-record batches and two of two records.
    batches = [[make_record(1)], [make_record(2)], [make_record(3), make_record(4)]]
    batches += [[make_record(5), make_record(6)], [make_record(7)]]
    results = await written_while_locked(other_writer, *(sqlite_store.write_batch(b) for b in batches))

    assert [r.written for r in results] == [1, 1, 2, 2, 1]
    assert transactions_of(sqlite_store) == 4  # 1 | 2 | 3+4 with 5+6 | 7


async def test_record_by_record_retries_of_two_callers_never_fail_each_others_good_records(
    sqlite_store: SqlTraceStore, other_writer: sqlite3.Connection
) -> None:
    # Both batches fail as one group (a duplicate id in the first); each caller then retries its own
    # records one at a time, at the same time as the other. Only the duplicate may fail.
    loop = asyncio.get_running_loop()
    insert = sqlite_store._insert

    async def held_insert(records: Sequence[TraceRecord], idempotent: bool) -> None:
        # Each one-record retry finds the write lock held for a moment, so that the other caller's retry
        # is waiting too when the writer gets the lock: the two would share a transaction if they could.
        if len(records) == 1 and not other_writer.in_transaction:
            other_writer.execute("BEGIN IMMEDIATE")
            loop.call_later(0.03, other_writer.execute, "COMMIT")
        await insert(records, idempotent)

    assert (await sqlite_store.write_batch([make_record(1)])).written == 1
    sqlite_store._insert = held_insert
    # The clean batch first: its retries then reach the writer just before the duplicate's.
    good_result, bad_result = await written_while_locked(
        other_writer,
        sqlite_store.write_batch([make_record(n) for n in (5, 6, 7, 8)]),
        sqlite_store.write_batch([make_record(n) for n in (2, 1, 3, 4)]),
    )

    async with sqlite_store.connect() as conn:
        stored = (await conn.scalars(sa.text("SELECT id FROM traces ORDER BY id"))).all()
    assert [r.id for f in bad_result.failures for r in f.records] == [make_record(1).id]
    assert (bad_result.written, good_result.written, good_result.failures) == (3, 4, ())
    assert stored == sorted(make_record(n).id for n in range(1, 9))
