"""Analytics filters, result records and the usage/cost series (http-api.md §8), shared by API and CLI.

Totals per provider, model and key live in `analytics_totals.py`, latency and errors in
`analytics_latency.py`. Whole days and hours are read from the rollups and the partial hours at a range's
edges from `traces` (rollup_reads.py); the raw queries here serve those edges and whatever the rollup
cannot answer. Python only adds up and shapes grouped rows.
Averages are computed here from SQL sums and counts so both backends give identical floats. Text
ordering uses byte order on both backends (`COLLATE "C"` on Postgres), so ties break the same way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ongoingai.query import rollup_reads
from ongoingai.query.buckets import Bucket, bucket_expression
from ongoingai.query.traces import TenantScope
from ongoingai.store.tables import traces

c = traces.c


class GroupBy(enum.StrEnum):
    PROVIDER = "provider"
    MODEL = "model"
    ROUTE = "route"
    KEY = "key"


# http-api.md §8 "Group columns": route → request_path, key → gateway_key_id (not api_key_hash).
GROUP_COLUMNS: dict[GroupBy, sa.ColumnElement[Any]] = {
    GroupBy.PROVIDER: c.provider,
    GroupBy.MODEL: c.model,
    GroupBy.ROUTE: c.request_path,
    GroupBy.KEY: c.gateway_key_id,
}


@dataclass(frozen=True, slots=True)
class AnalyticsFilter:
    """`from`/`to` (inclusive, on `timestamp`), exact provider/model, and the caller's tenant (None: all)."""

    since: datetime | None = None
    until: datetime | None = None
    provider: str = ""
    model: str = ""
    scope: TenantScope | None = None


def conditions(f: AnalyticsFilter) -> list[sa.ColumnElement[bool]]:
    out: list[sa.ColumnElement[bool]] = []
    if f.since is not None:
        out.append(c.timestamp >= f.since)
    if f.until is not None:
        out.append(c.timestamp <= f.until)
    if f.provider:
        out.append(c.provider == f.provider)
    if f.model:
        out.append(c.model == f.model)
    if f.scope is not None:
        out.extend([c.org_id == f.scope.org_id, c.workspace_id == f.scope.workspace_id])
    return out


def text_asc(expr: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    """Ascending byte order: SQLite's default, `COLLATE "C"` on Postgres (whose default is the locale)."""
    return sa.collate(expr, "C").asc() if dialect == "postgresql" else expr.asc()


def group_expression(group_by: GroupBy | None) -> sa.ColumnElement[Any]:
    """The group value with NULL and '' merged (both render as "no `group`")."""
    if group_by is None:
        return sa.literal_column("''")
    return sa.func.coalesce(GROUP_COLUMNS[group_by], sa.literal_column("''"))


def sum_or_zero(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(column), 0)


def as_int(value: Any) -> int:
    return int(value or 0)  # Postgres SUM(bigint) is numeric → Decimal


def as_float(value: Any) -> float:
    return float(value or 0.0)


def average(total: Any, count: int) -> float:
    return as_float(total) / count if count else 0.0


def _group_field(out: dict[str, Any], group: str) -> dict[str, Any]:
    if group:
        out["group"] = group
    return out


@dataclass(frozen=True, slots=True)
class UsageSummary:
    total_input_tokens: int
    total_output_tokens: int
    total_tokens: int

    def as_dict(self) -> dict[str, Any]:
        # DEVIATIONS.md: snake_case, not the original's PascalCase.
        return {
            "total_input_tokens": self.total_input_tokens,
            "total_output_tokens": self.total_output_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True, slots=True)
class CostSummary:
    total_cost_usd: float

    def as_dict(self) -> dict[str, Any]:
        return {"total_cost_usd": self.total_cost_usd}


@dataclass(frozen=True, slots=True)
class UsagePoint:
    bucket_start: datetime
    group: str
    input_tokens: int
    output_tokens: int
    total_tokens: int

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bucket_start": self.bucket_start}
        _group_field(out, self.group)
        out |= {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}
        out["total_tokens"] = self.total_tokens
        return out


@dataclass(frozen=True, slots=True)
class CostPoint:
    bucket_start: datetime
    group: str
    total_cost_usd: float
    request_count: int
    avg_cost_usd: float

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bucket_start": self.bucket_start}
        _group_field(out, self.group)
        out |= {"total_cost_usd": self.total_cost_usd, "request_count": self.request_count}
        out["avg_cost_usd"] = self.avg_cost_usd
        return out


@dataclass(frozen=True, slots=True)
class Series:
    """A usage or cost series: `group_by` omitted when ungrouped; items bucket ASC, group ASC."""

    group_by: GroupBy | None
    bucket: Bucket
    items: list[UsagePoint] | list[CostPoint]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.group_by is not None:
            out["group_by"] = self.group_by.value
        out["bucket"] = self.bucket.value
        out["items"] = [item.as_dict() for item in self.items]
        return out


@dataclass(frozen=True, slots=True)
class ModelStats:
    model: str
    request_count: int
    avg_latency_ms: float
    avg_ttft_ms: float
    total_tokens: int
    total_cost_usd: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "request_count": self.request_count,
            "avg_latency_ms": self.avg_latency_ms,
            "avg_ttft_ms": self.avg_ttft_ms,
            "total_tokens": self.total_tokens,
            "total_cost_usd": self.total_cost_usd,
        }


@dataclass(frozen=True, slots=True)
class KeyStats:
    api_key_hash: str
    request_count: int
    total_tokens: int
    total_cost_usd: float
    last_active_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "api_key_hash": self.api_key_hash,
            "request_count": self.request_count,
            "total_tokens": self.total_tokens,
            "total_cost_usd": self.total_cost_usd,
            "last_active_at": self.last_active_at,
        }


@dataclass(frozen=True, slots=True)
class Summary:
    total_requests: int
    total_input_tokens: int
    total_output_tokens: int
    total_tokens: int
    total_cost_usd: float
    active_keys: int
    top_model: str

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "total_requests": self.total_requests,
            "total_input_tokens": self.total_input_tokens,
            "total_output_tokens": self.total_output_tokens,
            "total_tokens": self.total_tokens,
            "total_cost_usd": self.total_cost_usd,
            "active_keys": self.active_keys,
        }
        if self.top_model:
            out["top_model"] = self.top_model
        return out


@dataclass(frozen=True, slots=True)
class ProviderTotals:
    provider: str
    request_count: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    total_cost_usd: float


def _series_query(
    f: AnalyticsFilter, group_by: GroupBy | None, bucket: Bucket, dialect: str, *values: sa.ColumnElement[Any]
) -> sa.Select[Any]:
    inner = sa.select(
        bucket_expression(c.timestamp, bucket, dialect).label("bucket_start"),
        group_expression(group_by).label("grp"),
        *values,
    ).where(*conditions(f))
    sub = inner.subquery()
    sums = [sum_or_zero(sub.c[v.name]).label(v.name) for v in values if isinstance(v, sa.Label)]
    return (
        sa.select(sub.c.bucket_start, sub.c.grp, sa.func.count().label("request_count"), *sums)
        .group_by(sub.c.bucket_start, sub.c.grp)
        .order_by(sub.c.bucket_start.asc(), text_asc(sub.c.grp, dialect))
    )


# Series value name → the `traces` column it sums.
_SERIES_COLUMNS: dict[str, sa.ColumnElement[Any]] = {
    "input_tokens": c.input_tokens,
    "output_tokens": c.output_tokens,
    "total_tokens": c.total_tokens,
    "total_cost_usd": c.estimated_cost_usd,
}
SeriesRow = dict[str, Any]


async def raw_series_rows(
    conn: AsyncConnection, f: AnalyticsFilter, group_by: GroupBy | None, bucket: Bucket, values: list[str]
) -> list[SeriesRow]:
    """Series rows (`bucket_start`, `grp`, `request_count`, `values`) from `traces` alone."""
    columns = [_SERIES_COLUMNS[name].label(name) for name in values]
    query = _series_query(f, group_by, bucket, conn.dialect.name, *columns)
    return [dict(row) for row in (await conn.execute(query)).mappings()]


def _add_series(
    into: dict[tuple[datetime, str], SeriesRow], rows: list[SeriesRow], values: list[str]
) -> None:
    for row in rows:
        key = (row["bucket_start"], row["grp"])
        got = into.setdefault(key, {"bucket_start": key[0], "grp": key[1], "request_count": 0})
        got["request_count"] += as_int(row["request_count"])
        for name in values:
            number = as_float if name == "total_cost_usd" else as_int
            got[name] = got.get(name, 0) + number(row[name])


async def series_rows(
    conn: AsyncConnection, f: AnalyticsFilter, group_by: GroupBy | None, bucket: Bucket, values: list[str]
) -> list[SeriesRow]:
    """Series rows from the rollups plus the raw partial hours (rollup_reads.py), bucket ASC then group
    ASC; from raw rows alone when the rollups cannot answer the grouping.
    """
    group = None if group_by is None else group_by.value
    if not rollup_reads.answers(group):
        return await raw_series_rows(conn, f, group_by, bucket, values)
    merged: dict[tuple[datetime, str], SeriesRow] = {}
    for piece in rollup_reads.pieces(f.since, f.until, rollup_reads.levels_for(bucket)):
        if piece.table is None:
            rows = await raw_series_rows(conn, rollup_reads.raw_filter(f, piece), group_by, bucket, values)
        else:
            query = rollup_reads.series_query(f, piece, group, bucket, conn.dialect.name, values)
            rows = [dict(row) for row in (await conn.execute(query)).mappings()]
        _add_series(merged, rows, values)
    # Python's str order is code-point order, the same as SQLite's BINARY and Postgres's "C" collation.
    return [merged[key] for key in sorted(merged)]


async def usage_series(
    conn: AsyncConnection, f: AnalyticsFilter, group_by: GroupBy | None, bucket: Bucket
) -> Series:
    """Token sums per bucket (and group), bucket ASC then group ASC (raises like `usage_summary`)."""
    rows = await series_rows(conn, f, group_by, bucket, ["input_tokens", "output_tokens", "total_tokens"])
    items = [
        UsagePoint(
            r["bucket_start"],
            r["grp"],
            as_int(r["input_tokens"]),
            as_int(r["output_tokens"]),
            as_int(r["total_tokens"]),
        )
        for r in rows
    ]
    return Series(group_by, bucket, items)


async def cost_series(
    conn: AsyncConnection, f: AnalyticsFilter, group_by: GroupBy | None, bucket: Bucket
) -> Series:
    """Cost sum, request count and average cost per bucket (and group) (raises like `usage_summary`)."""
    items = []
    for r in await series_rows(conn, f, group_by, bucket, ["total_cost_usd"]):
        count = as_int(r["request_count"])
        total = as_float(r["total_cost_usd"])
        items.append(CostPoint(r["bucket_start"], r["grp"], total, count, average(total, count)))
    return Series(group_by, bucket, items)
