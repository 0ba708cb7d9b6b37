"""Usage, cost, model, key and summary analytics (http-api.md §8), shared by `/api/analytics/*` and `report`.

Every function is one aggregate query over the filtered `traces` rows (index range on `timestamp`, or on
`org_id, workspace_id, timestamp` when scoped); Python only shapes the grouped rows. Averages are computed
here from SQL sums and counts so both backends give bit-identical floats. Text ordering uses byte order on
both backends (`COLLATE "C"` on Postgres), so ties break the same way everywhere.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

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


def _sum(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(column), 0)


def _int(value: Any) -> int:
    return int(value or 0)  # Postgres SUM(bigint) is numeric → Decimal


def _float(value: Any) -> float:
    return float(value or 0.0)


def _avg(total: Any, count: int) -> float:
    return _float(total) / count if count else 0.0


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


async def provider_totals(conn: AsyncConnection, f: AnalyticsFilter) -> list[ProviderTotals]:
    """Counts, token and cost sums per provider (provider ASC): one GROUP BY over the filtered traces.

    The usage, cost and overall summaries all add these rows up in this order, so the three answers agree
    to the last bit on both backends.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the store failed (API: `500 failed to read analytics`).
    """
    provider = sa.func.coalesce(c.provider, sa.literal_column("''")).label("provider")
    query = (
        sa.select(
            provider,
            sa.func.count(),
            _sum(c.input_tokens),
            _sum(c.output_tokens),
            _sum(c.total_tokens),
            _sum(c.estimated_cost_usd),
        )
        .where(*conditions(f))
        .group_by(provider)
        .order_by(text_asc(provider, conn.dialect.name))
    )
    return [
        ProviderTotals(name, _int(n), _int(i), _int(o), _int(t), _float(cost))
        for name, n, i, o, t, cost in (await conn.execute(query)).all()
    ]


def _usage_of(rows: list[ProviderTotals]) -> UsageSummary:
    return UsageSummary(
        sum(r.input_tokens for r in rows),
        sum(r.output_tokens for r in rows),
        sum(r.total_tokens for r in rows),
    )


def _cost_of(rows: list[ProviderTotals]) -> CostSummary:
    total = 0.0
    for r in rows:
        total += r.total_cost_usd
    return CostSummary(total)


async def usage_summary(conn: AsyncConnection, f: AnalyticsFilter) -> UsageSummary:
    """Token totals over the filtered traces (raises like `provider_totals`)."""
    return _usage_of(await provider_totals(conn, f))


async def cost_summary(conn: AsyncConnection, f: AnalyticsFilter) -> CostSummary:
    """Estimated cost total over the filtered traces (raises like `provider_totals`)."""
    return _cost_of(await provider_totals(conn, f))


def _series_query(
    f: AnalyticsFilter, group_by: GroupBy | None, bucket: Bucket, dialect: str, *values: sa.ColumnElement[Any]
) -> sa.Select[Any]:
    inner = sa.select(
        bucket_expression(c.timestamp, bucket, dialect).label("bucket_start"),
        group_expression(group_by).label("grp"),
        *values,
    ).where(*conditions(f))
    sub = inner.subquery()
    sums = [_sum(sub.c[v.name]).label(v.name) for v in values if isinstance(v, sa.Label)]
    return (
        sa.select(sub.c.bucket_start, sub.c.grp, sa.func.count().label("request_count"), *sums)
        .group_by(sub.c.bucket_start, sub.c.grp)
        .order_by(sub.c.bucket_start.asc(), text_asc(sub.c.grp, dialect))
    )


async def usage_series(
    conn: AsyncConnection, f: AnalyticsFilter, group_by: GroupBy | None, bucket: Bucket
) -> Series:
    """Token sums per bucket (and group), bucket ASC then group ASC (raises like `usage_summary`)."""
    query = _series_query(
        f,
        group_by,
        bucket,
        conn.dialect.name,
        c.input_tokens.label("input_tokens"),
        c.output_tokens.label("output_tokens"),
        c.total_tokens.label("total_tokens"),
    )
    rows = (await conn.execute(query)).mappings().all()
    items = [
        UsagePoint(
            r["bucket_start"],
            r["grp"],
            _int(r["input_tokens"]),
            _int(r["output_tokens"]),
            _int(r["total_tokens"]),
        )
        for r in rows
    ]
    return Series(group_by, bucket, items)


async def cost_series(
    conn: AsyncConnection, f: AnalyticsFilter, group_by: GroupBy | None, bucket: Bucket
) -> Series:
    """Cost sum, request count and average cost per bucket (and group) (raises like `usage_summary`)."""
    query = _series_query(
        f, group_by, bucket, conn.dialect.name, c.estimated_cost_usd.label("total_cost_usd")
    )
    rows = (await conn.execute(query)).mappings().all()
    items = []
    for r in rows:
        count = _int(r["request_count"])
        total = _float(r["total_cost_usd"])
        items.append(CostPoint(r["bucket_start"], r["grp"], total, count, _avg(total, count)))
    return Series(group_by, bucket, items)


async def model_stats(conn: AsyncConnection, f: AnalyticsFilter) -> list[ModelStats]:
    """One row per model: count DESC, model ASC. `avg_ttft_ms` counts non-streaming zeros (http-api.md §8)."""
    count = sa.func.count().label("request_count")
    query = (
        sa.select(
            c.model,
            count,
            _sum(sa.func.coalesce(c.latency_ms, 0)).label("latency"),
            _sum(sa.func.coalesce(c.time_to_first_token_ms, 0)).label("ttft"),
            _sum(c.total_tokens).label("tokens"),
            _sum(c.estimated_cost_usd).label("cost"),
        )
        .where(*conditions(f))
        .group_by(c.model)
        .order_by(count.desc(), text_asc(c.model, conn.dialect.name))
    )
    out = []
    for r in (await conn.execute(query)).mappings():
        n = _int(r["request_count"])
        out.append(
            ModelStats(
                r["model"], n, _avg(r["latency"], n), _avg(r["ttft"], n), _int(r["tokens"]), _float(r["cost"])
            )
        )
    return out


async def key_stats(conn: AsyncConnection, f: AnalyticsFilter) -> list[KeyStats]:
    """One row per non-empty `api_key_hash`: count DESC, hash ASC; `last_active_at` = max `created_at`."""
    count = sa.func.count().label("request_count")
    query = (
        sa.select(
            c.api_key_hash,
            count,
            _sum(c.total_tokens).label("tokens"),
            _sum(c.estimated_cost_usd).label("cost"),
            sa.func.max(c.created_at).label("last_active_at"),
        )
        .where(*conditions(f), c.api_key_hash.is_not(None), c.api_key_hash != "")
        .group_by(c.api_key_hash)
        .order_by(count.desc(), text_asc(c.api_key_hash, conn.dialect.name))
    )
    return [
        KeyStats(
            r["api_key_hash"],
            _int(r["request_count"]),
            _int(r["tokens"]),
            _float(r["cost"]),
            r["last_active_at"],
        )
        for r in (await conn.execute(query)).mappings()
    ]


def compose_summary(totals: list[ProviderTotals], models: list[ModelStats], keys: list[KeyStats]) -> Summary:
    """http-api.md §8 "Summary": usage and cost totals, `total_requests` = Σ model counts, `active_keys` =
    key rows, `top_model` = the first model with the strictly highest count in model-stats order.
    """
    usage, cost = _usage_of(totals), _cost_of(totals)
    return Summary(
        total_requests=sum(m.request_count for m in models),
        total_input_tokens=usage.total_input_tokens,
        total_output_tokens=usage.total_output_tokens,
        total_tokens=usage.total_tokens,
        total_cost_usd=cost.total_cost_usd,
        active_keys=len(keys),
        top_model=models[0].model if models else "",
    )


async def summary(conn: AsyncConnection, f: AnalyticsFilter) -> Summary:
    """The overview: three grouped queries (per provider, per model, per key), composed in Python.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the store failed (API: `500 failed to read analytics`).
    """
    totals = await provider_totals(conn, f)
    return compose_summary(totals, await model_stats(conn, f), await key_stats(conn, f))
