"""Keep the trace rollups in step with `traces`: batched upserts in the insert's own transaction.

The writer calls `add_to_rollups(conn, rows)` (`add_to_rollups_sqlite` on its plain sqlite3 connection)
with the column values it inserted (`rows.row_from_record`), after the INSERTs and inside the same
transaction, so a trace and its share of the sums commit or roll back together. The batch is summed in
Python first: one upsert row per distinct (hour or day, tenant, provider, model, key hash, key id) in each
of the hourly and daily tables, never one per trace. Rows are upserted in key order so that two writers
touching the same buckets lock them in the same order (no deadlock on Postgres).

Replayed journal batches may hold traces that already committed, whose INSERT will be skipped by
`ON CONFLICT DO NOTHING`: the writer asks `unstored_rows` (`unstored_rows_sqlite`) before such an insert
and passes only those rows, which also leaves out repeats of an id within the batch, so a replay never
counts a trace twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ongoingai.store.columns import format_sqlite_time, to_utc
from ongoingai.store.tables import ROLLUP_KEY, trace_rollups_daily, trace_rollups_hourly, traces

RollupKey = tuple[datetime, str, str, str, str, str, str]
_ADDED = (
    "request_count",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
    "latency_ms_sum",
    "ttft_ms_sum",
    "error_4xx",
    "error_5xx",
)
_COLUMNS = (*ROLLUP_KEY, *_ADDED, "last_created_at")
_ID_LOOKUP_CHUNK = 500  # well under SQLite's bound-parameter limit
_UPSERT_ROWS_PER_STATEMENT = 64  # × the rollup columns: far below the bound-parameter limit too


@dataclass(slots=True)
class Cell:
    """The sums of one rollup row contributed by one batch."""

    request_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms_sum: int = 0
    ttft_ms_sum: int = 0
    error_4xx: int = 0
    error_5xx: int = 0
    last_created_at: datetime | None = None

    def add(self, row: Mapping[str, Any]) -> None:
        status = row["response_status"] or 0
        self.request_count += 1
        self.input_tokens += row["input_tokens"] or 0
        self.output_tokens += row["output_tokens"] or 0
        self.total_tokens += row["total_tokens"] or 0
        self.cost_usd += row["estimated_cost_usd"] or 0.0
        self.latency_ms_sum += row["latency_ms"] or 0
        self.ttft_ms_sum += row["time_to_first_token_ms"] or 0
        # http-api.md §8 "Errors": 4xx = 400–499, 5xx = ≥ 500.
        self.error_4xx += 400 <= status <= 499
        self.error_5xx += status >= 500
        created = to_utc(row["created_at"])
        if self.last_created_at is None or created > self.last_created_at:
            self.last_created_at = created


def hour_of(value: datetime) -> datetime:
    return to_utc(value).replace(minute=0, second=0, microsecond=0)


def day_of(value: datetime) -> datetime:
    return to_utc(value).replace(hour=0, minute=0, second=0, microsecond=0)


# Each rollup table and how a trace's `timestamp` maps to its bucket.
LEVELS: tuple[tuple[str, Callable[[datetime], datetime]], ...] = (
    (trace_rollups_hourly.name, hour_of),
    (trace_rollups_daily.name, day_of),
)


def rollup_key(row: Mapping[str, Any], bucket_of: Callable[[datetime], datetime] = hour_of) -> RollupKey:
    return (
        bucket_of(row["timestamp"]),
        row["org_id"],
        row["workspace_id"],
        row["provider"],
        row["model"],
        row["api_key_hash"] or "",
        row["gateway_key_id"] or "",
    )


def rollup_cells(
    rows: Iterable[Mapping[str, Any]], bucket_of: Callable[[datetime], datetime] = hour_of
) -> dict[RollupKey, Cell]:
    """A batch's contribution to each rollup row it touches."""
    cells: dict[RollupKey, Cell] = {}
    for row in rows:
        key = rollup_key(row, bucket_of)
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = Cell()
        cell.add(row)
    return cells


@lru_cache(maxsize=512)
def upsert_sql(dialect: str, table: str = trace_rollups_hourly.name, count: int = 1) -> str:
    """INSERT … ON CONFLICT DO UPDATE adding a batch's sums, in the driver's own parameter style.

    `count` rows per statement (SQLite only; its writer thread binds many rows to one statement for
    the reason given at store/writes.py `sqlite_rows_sql`). Keys are distinct within a batch.
    """
    postgres = dialect == "postgresql"
    names = ", ".join(_COLUMNS)
    if postgres:
        marks = ", ".join(f"${i}" for i in range(1, len(_COLUMNS) + 1))
    else:
        marks = "), (".join([", ".join("?" for _ in _COLUMNS)] * count)  # inside the VALUES ( … )
    sets = [f"{name} = {table}.{name} + excluded.{name}" for name in _ADDED]
    greatest = "GREATEST" if postgres else "MAX"  # SQLite's two-argument max() is the scalar one
    sets.append(f"last_created_at = {greatest}({table}.last_created_at, excluded.last_created_at)")
    # OR FAIL (SQLite): see store/writes.py `sqlite_rows_sql`; the writer rolls back on any error.
    verb = "INSERT" if postgres else "INSERT OR FAIL"
    return (
        f"{verb} INTO {table} ({names}) VALUES ({marks})"
        f" ON CONFLICT ({', '.join(ROLLUP_KEY)}) DO UPDATE SET {', '.join(sets)}"
    )


def _params(key: RollupKey, cell: Cell, postgres: bool) -> tuple[Any, ...]:
    bucket, *dims = key
    last = cell.last_created_at
    assert last is not None  # a cell exists only once a row was added
    times = (bucket, last) if postgres else (format_sqlite_time(bucket), format_sqlite_time(last))
    tokens = (cell.input_tokens, cell.output_tokens, cell.total_tokens)
    rest = (float(cell.cost_usd), cell.latency_ms_sum, cell.ttft_ms_sum, cell.error_4xx, cell.error_5xx)
    return (times[0], *dims, cell.request_count, *tokens, *rest, times[1])


def unstored(rows: Sequence[Mapping[str, Any]], stored: set[str]) -> list[Mapping[str, Any]]:
    """The rows an `ON CONFLICT ("id") DO NOTHING` insert will add: not in `stored`, first of repeats."""
    seen = set(stored)
    out = []
    for row in rows:
        if row["id"] not in seen:
            seen.add(row["id"])
            out.append(row)
    return out


def upsert_params(
    rows: Sequence[Mapping[str, Any]], postgres: bool, bucket_of: Callable[[datetime], datetime] = hour_of
) -> list[tuple[Any, ...]]:
    """One parameter tuple per distinct rollup row the batch touches, in key order."""
    cells = rollup_cells(rows, bucket_of)
    return [_params(key, cells[key], postgres) for key in sorted(cells)]


async def _stored_ids(conn: AsyncConnection, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), _ID_LOOKUP_CHUNK):
        chunk = list(ids[start : start + _ID_LOOKUP_CHUNK])
        result = await conn.execute(sa.select(traces.c.id).where(traces.c.id.in_(chunk)))
        found.update(result.scalars())
    return found


async def unstored_rows(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows an idempotent insert of `rows` will add. Ask before that insert, in its transaction."""
    return unstored(rows, await _stored_ids(conn, [row["id"] for row in rows]))


async def add_to_rollups(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Add `rows` (trace column values inserted, or about to be, on `conn`) to the hourly rollups.

    Call it inside the insert's transaction. For an idempotent replay pass the `unstored_rows` asked
    before its insert.
    """
    dialect = conn.dialect.name
    for table, bucket_of in LEVELS if rows else ():
        params = upsert_params(rows, dialect == "postgresql", bucket_of)
        await conn.exec_driver_sql(upsert_sql(dialect, table), params)


def _stored_ids_sqlite(conn: sqlite3.Connection, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), _ID_LOOKUP_CHUNK):
        chunk = list(ids[start : start + _ID_LOOKUP_CHUNK])
        marks = ", ".join("?" for _ in chunk)
        query = f"SELECT id FROM traces WHERE id IN ({marks})"  # noqa: S608 - only placeholders interpolated
        found.update(row[0] for row in conn.execute(query, chunk))
    return found


def unstored_rows_sqlite(
    conn: sqlite3.Connection, rows: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """`unstored_rows` on a plain sqlite3 connection: ask before the idempotent insert, in its transaction."""
    return unstored(rows, _stored_ids_sqlite(conn, [row["id"] for row in rows]))


def add_to_rollups_sqlite(conn: sqlite3.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """`add_to_rollups` for a plain sqlite3 connection (the SQLite writer thread), same contract.

    The writer calls it once per transaction with every batch's rows, not once per batch: a trace costs
    ~2 upsert rows when summed 64 at a time and ~0.3 when 1,024 are (bench/writer_bench.py, 50 keys ×
    6 models), ~35 µs per trace less.
    """
    for table, bucket_of in LEVELS if rows else ():
        params = upsert_params(rows, False, bucket_of)
        for start in range(0, len(params), _UPSERT_ROWS_PER_STATEMENT):
            chunk = params[start : start + _UPSERT_ROWS_PER_STATEMENT]
            conn.execute(upsert_sql("sqlite", table, len(chunk)), [value for cell in chunk for value in cell])
