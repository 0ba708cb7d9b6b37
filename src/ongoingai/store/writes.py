"""`write_records`: the spec's write semantics (traces-and-lineage.md §4 "Write") and failure results.

One record → one insert (operation `write_trace`); several → one transaction, and when that fails
with a per-record class (constraint, unknown) each record is retried alone (operation
`write_batch_fallback`). When the store is not answering (timeout, connection, contention) the
one-by-one retry is skipped: it would only fail n more times, and the caller spills the batch.
SQLite busy/locked errors are retried here ≤ 12× (5 ms doubling, cap 250 ms) before they count.

How a batch reaches the database is an `Inserter`: `PostgresInserter` below (one `INSERT … SELECT FROM
unnest(…)` per batch) or `sqlite_writer.SqliteInserter` (a thread of its own). Each runs the rollup upsert
(store/rollup.py) in the insert's transaction.
"""

from __future__ import annotations

import asyncio
import operator
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from ongoingai.store.columns import JsonDocument, UtcDateTime, format_sqlite_time, to_utc
from ongoingai.store.errors import TRANSIENT_CLASSES, ErrorClass, classify_error, error_kind
from ongoingai.store.rollup import add_to_rollups, unstored_rows
from ongoingai.store.rows import json_text_for_postgres, row_from_record
from ongoingai.store.tables import traces
from ongoingai.traces import TraceRecord

BUSY_RETRIES = 12
BUSY_FIRST_DELAY_S = 0.005
BUSY_MAX_DELAY_S = 0.25
# What the driver may raise for a failed statement; anything else is a bug and propagates.
DRIVER_ERRORS = (sa_exc.SQLAlchemyError, sqlite3.Error, OSError, TimeoutError)

# Inserts `records` in one transaction (`idempotent`: skip ids already stored) or raises a driver error.
Inserter = Callable[[Sequence[TraceRecord], bool], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class WriteFailure:
    """Records that were not written, why, and by which operation."""

    records: tuple[TraceRecord, ...]
    operation: str
    error_class: ErrorClass
    error_kind: str


@dataclass(frozen=True, slots=True)
class WriteResult:
    written: int
    failures: tuple[WriteFailure, ...] = ()

    @property
    def failed_count(self) -> int:
        return sum(len(f.records) for f in self.failures)


_COLUMNS = tuple(column.name for column in traces.columns)
_JSON_COLUMNS = frozenset({"request_headers", "response_headers", "metadata"})
_TIME_COLUMNS = frozenset({"timestamp", "created_at"})


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def sqlite_time(value: datetime) -> str:
    """`columns.format_sqlite_time` at a fifth of the cost: `isoformat` instead of `strftime`."""
    if value.tzinfo is UTC and value.year >= 1000:  # strftime does not zero-pad years below 1000
        return value.isoformat(" ", "microseconds")
    return format_sqlite_time(value)


# Per column, how a `row_from_record` value becomes the SQLite driver's value (None: as it is).
_SQLITE_PLAN: tuple[tuple[str, Callable[[Any], Any] | None], ...] = tuple(
    (name, _json_text if name in _JSON_COLUMNS else sqlite_time if name in _TIME_COLUMNS else None)
    for name in _COLUMNS
)


_ALL_VALUES = operator.itemgetter(*_COLUMNS)
# Only these positions need a conversion; the rest are bound as they are.
_CONVERSIONS = tuple((i, convert) for i, (_, convert) in enumerate(_SQLITE_PLAN) if convert is not None)


def sqlite_params(row: Mapping[str, Any]) -> list[Any]:
    """One row's values in `_COLUMNS` order, as SQLite stores them (JSON text, fixed-width UTC text).

    All values are taken in one C call and only the five JSON/time positions are visited: ~4.4 µs per
    trace (3 µs of it the conversions themselves) against ~5.7 µs for a generator over every column,
    on the writer thread with the GIL held.
    """
    values = list(_ALL_VALUES(row))
    for i, convert in _CONVERSIONS:
        value = values[i]
        if value is not None:
            values[i] = convert(value)
    return values


@lru_cache(maxsize=256)
def sqlite_rows_sql(idempotent: bool, count: int) -> str:
    """One INSERT of `count` rows (multi-row VALUES) for the SQLite writer thread.

    Why not `executemany`: the sqlite3 module releases the GIL around each row's step and must take it
    back before the next; while the event loop is busy that wait is a whole switch interval (5 ms), so a
    batch of 64 rows took up to ~0.3 s under proxy load (the convoy effect) and the queue filled. One
    statement is one step: the B-tree work of the whole chunk runs without the GIL.

    Plain values are bound, not SQLAlchemy's compiled insert: its per-value type processors cost more CPU
    per row than the insert itself. `tables.traces` stays the single definition of the column list.

    Why `OR FAIL`: with the default (ABORT) a statement that writes several rows must be undoable on its
    own, so SQLite copies every page it first touches into a statement journal (spilled to a temporary
    file past 64 KiB); with ~23 indexes that is most of a 64-row statement's pages, ~30 µs per trace.
    FAIL keeps the rows before a failing one instead of undoing them, and needs no journal: the writer
    rolls back the whole transaction on any error (sqlite_writer.py), so nothing partial is kept.
    """
    row = "(" + ", ".join("?" for _ in _COLUMNS) + ")"
    names = ", ".join(f'"{name}"' for name in _COLUMNS)
    # Replayed journal batches may already be stored (the commit landed, the answer did not).
    conflict = ' ON CONFLICT ("id") DO NOTHING' if idempotent else ""
    values = ", ".join(row for _ in range(count))
    return f"INSERT OR FAIL INTO traces ({names}) VALUES {values}{conflict}"  # noqa: S608 - names from tables.py


def _postgres_array_type(column: sa.Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, JsonDocument):
        return "text"  # sent as JSON text, cast to jsonb in the SELECT
    if isinstance(kind, UtcDateTime):
        return "timestamptz"
    if isinstance(kind, sa.BigInteger):
        return "bigint"
    if isinstance(kind, sa.Integer):
        return "integer"
    if isinstance(kind, sa.Float):
        return "double precision"
    return "text"


@lru_cache(maxsize=2)
def postgres_batch_sql(idempotent: bool) -> str:
    """A whole batch as one statement: one array parameter per column, unnested into rows.

    One parse, one plan and one round trip per batch instead of per row; unlike binary COPY it works
    under the forced row-level security of migration 0003 (COPY FROM refuses RLS tables for any role
    that does not bypass it) and takes `ON CONFLICT` for idempotent replays.
    """
    names = ", ".join(f'"{name}"' for name in _COLUMNS)
    arrays = ", ".join(f"${i}::{_postgres_array_type(c)}[]" for i, c in enumerate(traces.columns, start=1))
    picks = ", ".join(f'"{n}"::jsonb' if n in _JSON_COLUMNS else f'"{n}"' for n in _COLUMNS)
    conflict = ' ON CONFLICT ("id") DO NOTHING' if idempotent else ""
    return f"INSERT INTO traces ({names}) SELECT {picks} FROM unnest({arrays}) AS t({names}){conflict}"  # noqa: S608


def postgres_arrays(rows: Sequence[Mapping[str, Any]]) -> tuple[list[Any], ...]:
    """The batch column by column (the unnest statement's parameters); JSON columns as text."""
    out: list[list[Any]] = []
    for name in _COLUMNS:
        values = [row[name] for row in rows]
        if name in _JSON_COLUMNS:
            values = [None if v is None else json_text_for_postgres(v) for v in values]
        elif name in _TIME_COLUMNS:
            values = [None if v is None else to_utc(v) for v in values]  # a naive time is UTC, as on SQLite
        out.append(values)
    return tuple(out)


# The most rows one group-committed transaction takes (a single batch larger than this still goes whole).
GROUP_MAX_ROWS = 1024
# Postgres transactions writing at once, each with the batches that were waiting when it began.
POSTGRES_LANES = 2


def joins_group(rows: int, waiting: int) -> bool:
    """Whether a waiting batch of `waiting` records may join a transaction holding `rows` already.

    A one-record batch never shares a transaction, in either direction: that is how `write_records`
    retries a failed batch record by record, and grouped with another caller's records a bad one would
    fail them too, while a record that fails alone counts as lost for good.
    """
    return rows > 1 and waiting > 1 and rows + waiting <= GROUP_MAX_ROWS


@dataclass(slots=True)
class _Waiting:
    records: Sequence[TraceRecord]
    idempotent: bool
    done: asyncio.Future[None]

    def settle(self, error: BaseException | None) -> None:
        """Answer the caller, unless it is gone; a cancellation (the store closing) reads as one."""
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        elif isinstance(error, asyncio.CancelledError):
            self.done.cancel()
        else:
            self.done.set_exception(error)


class PostgresInserter:
    """Group commit on pooled connections: each transaction takes every batch waiting when it begins.

    Per batch: the unnest insert; per transaction: the rollups of all its batches, summed once. The
    batches in one transaction share their rollup rows: with the benchmark's realistic records a batch
    of 64 touches ~60 rollup rows per level, ~1 upsert per trace, ~48 µs of server CPU per trace, a third
    of all the server's work (bench/writer_bench.py; batches of 256 instead of 64 wrote 9.8–11.2k traces/s
    against 7.7–8.4k).
    `POSTGRES_LANES` transactions run at once (each on its own connection), so the server's index work
    for one overlaps the other's round trips. One failure fails every batch of its transaction; each
    caller then retries or splits its own (`write_records`).

    Rollups last: two transactions at once touch the same hourly rollup rows, and the second waits on the
    first's row locks until it commits. Taken after the inserts, those locks are held only for the short
    upsert and the commit, so the inserts, the costly part (~23 indexes per trace), run side by side.
    Upserts go in key order: no deadlock.

    A caller cancelled while its batch is in a transaction does not stop that transaction (its batch
    may land, as it may on SQLite; the writer journals it and the replay's idempotent insert skips it);
    a batch whose caller is gone before a transaction takes it is not written. `close()` stops them all.
    """

    def __init__(self, engine: AsyncEngine, lanes: int = POSTGRES_LANES) -> None:
        self._engine = engine
        self._lanes = max(lanes, 1)
        self._waiting: deque[_Waiting] = deque()
        # Lanes counted here, not by their tasks: a lane that found nothing waiting stops counting in the
        # same step, so a batch handed over right after always finds a lane to start.
        self._active = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.transactions = 0  # committed so far: visible to tests and benches

    async def __call__(self, records: Sequence[TraceRecord], idempotent: bool) -> None:
        job = _Waiting(records, idempotent, asyncio.get_running_loop().create_future())
        self._waiting.append(job)
        if self._active < self._lanes:
            self._active += 1
            lane = asyncio.create_task(self._lane(), name="ongoingai-postgres-writer")
            self._tasks.add(lane)
            lane.add_done_callback(self._tasks.discard)
        await job.done

    async def _lane(self) -> None:
        try:
            while group := self._take_group():
                error: BaseException | None = None
                try:
                    await self._insert(group)
                except BaseException as exc:
                    error = exc
                for job in group:
                    job.settle(error)
                if error is not None and not isinstance(error, Exception):
                    raise error  # cancelled: the store is closing
        finally:
            self._active -= 1

    def _take_group(self) -> list[_Waiting]:
        group: list[_Waiting] = []
        rows = 0
        while self._waiting:
            job = self._waiting[0]
            if job.done.done():  # its caller is gone (cancelled): nobody to answer, not written
                self._waiting.popleft()
                continue
            if group and not joins_group(rows, len(job.records)):
                break
            group.append(self._waiting.popleft())
            rows += len(job.records)
        return group

    async def _insert(self, group: list[_Waiting]) -> None:
        now = datetime.now(UTC)
        counted: list[Mapping[str, Any]] = []  # the rows this transaction adds to the rollups
        async with self._engine.begin() as conn:
            for job in group:
                rows = [row_from_record(r, now, postgres=True) for r in job.records]
                # A replay's already-stored traces are asked for before its insert, then left out.
                counted.extend(await unstored_rows(conn, rows) if job.idempotent else rows)
                await conn.exec_driver_sql(postgres_batch_sql(job.idempotent), postgres_arrays(rows))
            await add_to_rollups(conn, counted)  # same transaction as the inserts, summed once
        self.transactions += 1

    async def close(self) -> None:
        """Stop the transactions under way (rolled back) and answer every batch still waiting.

        By now the trace writer has had its bounded shutdown: a lane still running belongs to a batch it
        gave up on and journalled (sink/batch_writer.py), and it may be stuck on a store that stopped
        answering, where waiting would stretch shutdown up to the statement timeout.
        """
        for lane in self._tasks:
            lane.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        while self._waiting:
            self._waiting.popleft().settle(asyncio.CancelledError())


async def insert_with_retry(insert: Inserter, records: Sequence[TraceRecord], idempotent: bool) -> None:
    delay = BUSY_FIRST_DELAY_S
    for attempt in range(BUSY_RETRIES + 1):
        try:
            await insert(records, idempotent)
            return
        except DRIVER_ERRORS as exc:
            if attempt == BUSY_RETRIES or classify_error(exc) != "contention":
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, BUSY_MAX_DELAY_S)


def _failure(records: Sequence[TraceRecord], operation: str, exc: BaseException) -> WriteFailure:
    return WriteFailure(tuple(records), operation, classify_error(exc), error_kind(exc))


async def write_records(
    insert: Inserter, records: Sequence[TraceRecord], *, idempotent: bool = False
) -> WriteResult:
    """Write `records`; never raises for a driver error, returns what failed and why instead."""
    if not records:
        return WriteResult(0)
    operation = "write_trace" if len(records) == 1 else "write_batch"
    try:
        await insert_with_retry(insert, records, idempotent)
    except DRIVER_ERRORS as exc:
        failure = _failure(records, operation, exc)
        if len(records) == 1 or failure.error_class in TRANSIENT_CLASSES:
            return WriteResult(0, (failure,))
        return await _one_by_one(insert, records, idempotent)
    return WriteResult(len(records))


async def _one_by_one(insert: Inserter, records: Sequence[TraceRecord], idempotent: bool) -> WriteResult:
    written = 0
    failures: list[WriteFailure] = []
    for index, record in enumerate(records):
        try:
            await insert_with_retry(insert, [record], idempotent)
        except DRIVER_ERRORS as exc:
            failure = _failure([record], "write_batch_fallback", exc)
            if failure.error_class in TRANSIENT_CLASSES:
                # The store stopped answering mid-way: the rest would fail the same way.
                rest = _failure(records[index:], "write_batch_fallback", exc)
                return WriteResult(written, (*failures, rest))
            failures.append(failure)
        else:
            written += 1
    return WriteResult(written, tuple(failures))
