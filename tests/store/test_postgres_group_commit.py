"""Postgres group commit (store/writes.py `PostgresInserter`): batches waiting share a transaction and
its rollup sums; a one-record batch never shares one. A table lock held by another connection keeps
the lanes busy while the next batches are handed over."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa

from ongoingai.store import SqlTraceStore, open_trace_store
from ongoingai.store.writes import POSTGRES_LANES, PostgresInserter, WriteResult
from ongoingai.traces import TraceRecord
from tests.fakes.storage import rollup_sums, storage_settings
from tests.fakes.trace_records import make_record

pytestmark = pytest.mark.postgres


@pytest.fixture
async def store(tmp_path: Path, postgres_migrated_dsn: str) -> AsyncIterator[SqlTraceStore]:
    opened = await open_trace_store(storage_settings("postgres", tmp_path, postgres_migrated_dsn))
    yield opened
    await opened.close()


def inserter_of(store: SqlTraceStore) -> PostgresInserter:
    inserter = store._postgres
    assert inserter is not None
    return inserter


@contextlib.asynccontextmanager
async def traces_locked(dsn: str) -> AsyncIterator[None]:
    """Inserts into `traces` blocked by another connection's table lock until the block ends."""
    lock = await asyncpg.connect(dsn)
    try:
        async with lock.transaction():
            await lock.execute("LOCK TABLE traces IN SHARE ROW EXCLUSIVE MODE")  # conflicts with INSERT
            yield
    finally:
        await lock.close()


async def one_batch_per_lane(
    store: SqlTraceStore, batches: Sequence[Sequence[TraceRecord]]
) -> list[asyncio.Future[WriteResult]]:
    """Hand `batches` over one at a time, so that each lane takes one and waits on the lock."""
    assert len(batches) == POSTGRES_LANES
    busy = []
    for one in batches:
        busy.append(asyncio.ensure_future(store.write_batch(one)))
        await asyncio.sleep(0.1)
    return busy


async def write_while_locked(
    store: SqlTraceStore,
    dsn: str,
    first: Sequence[Sequence[TraceRecord]],
    then: Sequence[Sequence[TraceRecord]],
) -> list[int]:
    """Hand `first` over while inserts into `traces` are blocked (one batch per lane), then `then`, then
    let go; the number of records each write stored."""
    async with traces_locked(dsn):
        busy = await one_batch_per_lane(store, first)
        waiting = [asyncio.ensure_future(store.write_batch(batch)) for batch in then]
        await asyncio.sleep(0.05)
    results = await asyncio.gather(*busy, *waiting)
    assert all(r.failures == () for r in results)
    return [r.written for r in results]


def batch(*numbers: int, **overrides: object) -> list[TraceRecord]:
    return [make_record(n, **overrides) for n in numbers]


async def test_batches_waiting_for_a_lane_share_one_transaction_and_its_rollup_sums(
    store: SqlTraceStore, postgres_migrated_dsn: str
) -> None:
    written = await write_while_locked(
        store,
        postgres_migrated_dsn,
        [batch(1, 2, input_tokens=1), batch(3, 4, input_tokens=1)],
        [batch(5, 6, input_tokens=1), batch(7, 8, input_tokens=1)],
    )
    assert written == [2, 2, 2, 2]
    assert inserter_of(store).transactions == POSTGRES_LANES + 1  # the two waiting batches together
    async with store.connect() as conn:
        count = (await conn.execute(sa.text("SELECT count(*) FROM traces"))).scalar_one()
        sums = await rollup_sums(conn)
    assert count == 8
    assert sums == [(8, 8), (8, 8)]


async def test_a_one_record_batch_waiting_for_a_lane_has_a_transaction_of_its_own(
    store: SqlTraceStore, postgres_migrated_dsn: str
) -> None:
    written = await write_while_locked(
        store, postgres_migrated_dsn, [batch(1, 2), batch(3, 4)], [batch(5), batch(6), batch(7, 8)]
    )
    assert written == [2, 2, 1, 1, 2]
    assert inserter_of(store).transactions == POSTGRES_LANES + 3


async def test_a_replayed_batch_in_a_shared_transaction_counts_only_what_it_adds(
    store: SqlTraceStore, postgres_migrated_dsn: str
) -> None:
    assert (await store.write_batch(batch(1, input_tokens=1))).written == 1
    async with traces_locked(postgres_migrated_dsn):
        busy = await one_batch_per_lane(store, [batch(10, 11), batch(20, 21)])
        fresh = asyncio.ensure_future(store.write_batch(batch(2, 3, input_tokens=1)))
        replay = asyncio.ensure_future(store.write_batch(batch(1, 3, 4, 4, input_tokens=1), idempotent=True))
        await asyncio.sleep(0.05)
    results = await asyncio.gather(*busy, fresh, replay)
    assert all(r.failures == () for r in results)
    assert inserter_of(store).transactions == 1 + POSTGRES_LANES + 1  # fresh and replay together
    async with store.connect() as conn:
        stored = (
            await conn.execute(
                sa.text("SELECT count(*) FROM traces WHERE id = ANY(:ids)"),
                {"ids": [make_record(n).id for n in (1, 2, 3, 4)]},
            )
        ).scalar_one()
        counted = (
            await conn.execute(sa.text("SELECT sum(input_tokens) FROM trace_rollups_hourly"))
        ).scalar_one()
    assert stored == 4
    assert counted == 4 + 4 * 12  # traces 1-4 with 1 token each, and the four busy ones with the default 12


async def test_closing_the_store_stops_a_transaction_stuck_on_the_database(
    store: SqlTraceStore, postgres_migrated_dsn: str
) -> None:
    # The writer's shutdown is bounded; a lane stuck behind a lock (or a store that stopped answering)
    # must not hold the store's close until the statement timeout.
    async with traces_locked(postgres_migrated_dsn):
        stuck = asyncio.ensure_future(store.write_batch(batch(1, 2)))
        await asyncio.sleep(0.1)
        waiting = [asyncio.ensure_future(store.write_batch(batch(n, n + 1))) for n in (3, 5, 7)]
        await asyncio.sleep(0.05)
        async with asyncio.timeout(5):
            await store.close()
        outcomes = await asyncio.gather(stuck, *waiting, return_exceptions=True)
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes), outcomes
