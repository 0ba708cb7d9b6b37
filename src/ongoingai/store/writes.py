"""`write_records`: the spec's write semantics (traces-and-lineage.md §4 "Write") and failure results.

One record → one insert (operation `write_trace`); several → one transaction, and when that fails
with a per-record class (constraint, unknown) each record is retried alone (operation
`write_batch_fallback`). When the store is not answering (timeout, connection, contention) the
one-by-one retry is skipped: it would only fail n more times, and the caller spills the batch.
SQLite busy/locked errors are retried here ≤ 12× (5 ms doubling, cap 250 ms) before they count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from ongoingai.store.columns import format_sqlite_time, to_utc
from ongoingai.store.errors import TRANSIENT_CLASSES, ErrorClass, classify_error, error_kind
from ongoingai.store.rows import row_from_record
from ongoingai.store.tables import traces
from ongoingai.traces import TraceRecord

BUSY_RETRIES = 12
BUSY_FIRST_DELAY_S = 0.005
BUSY_MAX_DELAY_S = 0.25
# What the driver may raise for a failed statement; anything else is a bug and propagates.
DRIVER_ERRORS = (sa_exc.SQLAlchemyError, OSError, TimeoutError)


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


@lru_cache(maxsize=4)
def insert_sql(dialect: str, idempotent: bool) -> str:
    """The INSERT for one row in the driver's own parameter style.

    The hot write path binds plain tuples with `exec_driver_sql`: compiling the statement and running
    SQLAlchemy's per-value type processors cost more CPU per row than the insert itself (measured ~90 µs
    of ~180 µs per row on SQLite). `tables.traces` stays the single definition of the column list.
    """
    names = ", ".join(f'"{name}"' for name in _COLUMNS)
    if dialect == "postgresql":
        marks = ", ".join(f"${i}" for i in range(1, len(_COLUMNS) + 1))
    else:
        marks = ", ".join("?" for _ in _COLUMNS)
    # Replayed journal batches may already be stored (the commit landed, the answer did not).
    conflict = ' ON CONFLICT ("id") DO NOTHING' if idempotent else ""
    return f"INSERT INTO traces ({names}) VALUES ({marks}){conflict}"  # noqa: S608 - names from tables.py


def row_values(row: dict[str, Any], postgres: bool) -> tuple[Any, ...]:
    """Column values in `_COLUMNS` order, already in the driver's form (JSON text, time text/aware)."""
    values = []
    for name in _COLUMNS:
        value = row[name]
        if value is not None and name in _JSON_COLUMNS:
            value = orjson.dumps(value).decode()
        elif value is not None and name in _TIME_COLUMNS:
            value = to_utc(value) if postgres else format_sqlite_time(value)
        values.append(value)
    return tuple(values)


async def _insert_once(engine: AsyncEngine, records: Sequence[TraceRecord], idempotent: bool) -> None:
    dialect = engine.dialect.name
    postgres = dialect == "postgresql"
    now = datetime.now(UTC)
    rows = [row_values(row_from_record(r, now, postgres=postgres), postgres) for r in records]
    async with engine.begin() as conn:
        await conn.exec_driver_sql(insert_sql(dialect, idempotent), rows)


async def insert_with_retry(engine: AsyncEngine, records: Sequence[TraceRecord], idempotent: bool) -> None:
    delay = BUSY_FIRST_DELAY_S
    for attempt in range(BUSY_RETRIES + 1):
        try:
            await _insert_once(engine, records, idempotent)
            return
        except DRIVER_ERRORS as exc:
            if attempt == BUSY_RETRIES or classify_error(exc) != "contention":
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, BUSY_MAX_DELAY_S)


def _failure(records: Sequence[TraceRecord], operation: str, exc: BaseException) -> WriteFailure:
    return WriteFailure(tuple(records), operation, classify_error(exc), error_kind(exc))


async def write_records(
    engine: AsyncEngine, records: Sequence[TraceRecord], *, idempotent: bool = False
) -> WriteResult:
    """Write `records`; never raises for a driver error, returns what failed and why instead."""
    if not records:
        return WriteResult(0)
    operation = "write_trace" if len(records) == 1 else "write_batch"
    try:
        await insert_with_retry(engine, records, idempotent)
    except DRIVER_ERRORS as exc:
        failure = _failure(records, operation, exc)
        if len(records) == 1 or failure.error_class in TRANSIENT_CLASSES:
            return WriteResult(0, (failure,))
        return await _one_by_one(engine, records, idempotent)
    return WriteResult(len(records))


async def _one_by_one(engine: AsyncEngine, records: Sequence[TraceRecord], idempotent: bool) -> WriteResult:
    written = 0
    failures: list[WriteFailure] = []
    for index, record in enumerate(records):
        try:
            await insert_with_retry(engine, [record], idempotent)
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
