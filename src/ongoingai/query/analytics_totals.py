"""Totals per provider, model and API key, and the summary (http-api.md §8), from one grouped query.

A single GROUP BY (provider, model, api_key_hash) — the "cube", read from the rollups for whole days and
hours and from `traces` for the partial hours at a range's edges (rollup_reads.py) — carries every sum
these answers need; providers, models, keys, the usage and cost summaries and `/summary` are all
added up from it here. One scan of the table instead of three for `/summary` and `report`, and every
answer is the same arithmetic over the same rows, so `/summary`, `/models`, `/keys` and `report` agree to
the last bit. The cube has one row per distinct (provider, model, key hash): a few thousand at most in
practice, never one per trace. Cube rows are added up in sorted order, so float sums are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ongoingai.query import rollup_reads
from ongoingai.query.analytics import (
    AnalyticsFilter,
    CostSummary,
    KeyStats,
    ModelStats,
    ProviderTotals,
    Summary,
    UsageSummary,
    as_float,
    as_int,
    average,
    conditions,
    sum_or_zero,
)
from ongoingai.store.tables import traces

c = traces.c


@dataclass(frozen=True, slots=True)
class CubeRow:
    provider: str
    model: str
    api_key_hash: str
    request_count: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost_usd: float
    latency_ms: int  # sum, NULL as 0
    ttft_ms: int  # sum, NULL as 0
    last_created_at: datetime | None


def _cube_rows(rows: Iterable[Any]) -> list[CubeRow]:
    return [
        CubeRow(
            p,
            m,
            k,
            as_int(n),
            as_int(i),
            as_int(o),
            as_int(t),
            as_float(cost),
            as_int(lat),
            as_int(ttft),
            last,
        )
        for p, m, k, n, i, o, t, cost, lat, ttft, last in rows
    ]


async def raw_usage_cube(conn: AsyncConnection, f: AnalyticsFilter) -> list[CubeRow]:
    """The cube from `traces` alone (unsorted): the partial hours of `usage_cube`, and the reference."""
    empty: sa.ColumnElement[str] = sa.literal_column("''")
    provider = sa.func.coalesce(c.provider, empty).label("provider")
    key = sa.func.coalesce(c.api_key_hash, empty).label("api_key_hash")
    query = (
        sa.select(
            provider,
            c.model,
            key,
            sa.func.count(),
            sum_or_zero(c.input_tokens),
            sum_or_zero(c.output_tokens),
            sum_or_zero(c.total_tokens),
            sum_or_zero(c.estimated_cost_usd),
            sum_or_zero(sa.func.coalesce(c.latency_ms, 0)),
            sum_or_zero(sa.func.coalesce(c.time_to_first_token_ms, 0)),
            sa.func.max(c.created_at),
        )
        .where(*conditions(f))
        .group_by(provider, c.model, key)
    )
    return _cube_rows((await conn.execute(query)).all())


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def merge_cube(parts: Iterable[list[CubeRow]]) -> list[CubeRow]:
    """Cube rows with the same (provider, model, key hash) added up, sorted by those three."""
    merged: dict[tuple[str, str, str], CubeRow] = {}
    for part in parts:
        for row in part:
            key = (row.provider, row.model, row.api_key_hash)
            got = merged.get(key)
            merged[key] = (
                row
                if got is None
                else CubeRow(
                    *key,
                    got.request_count + row.request_count,
                    got.input_tokens + row.input_tokens,
                    got.output_tokens + row.output_tokens,
                    got.total_tokens + row.total_tokens,
                    got.cost_usd + row.cost_usd,
                    got.latency_ms + row.latency_ms,
                    got.ttft_ms + row.ttft_ms,
                    _later(got.last_created_at, row.last_created_at),
                )
            )
    # Python's str order is code-point order: SQLite's BINARY and Postgres's "C" collation agree with it.
    return [merged[key] for key in sorted(merged)]


async def usage_cube(conn: AsyncConnection, f: AnalyticsFilter) -> list[CubeRow]:
    """Sums per (provider, model, api_key_hash) over the filtered traces, sorted by those three.

    Whole days and hours come from the rollups, the partial hours at the range's edges from `traces`.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the store failed (API: `500 failed to read analytics`).
    """
    parts = []
    for piece in rollup_reads.pieces(f.since, f.until, rollup_reads.levels_for(None)):
        if piece.table is None:
            parts.append(await raw_usage_cube(conn, rollup_reads.raw_filter(f, piece)))
        else:
            parts.append(_cube_rows((await conn.execute(rollup_reads.cube_query(f, piece))).all()))
    return merge_cube(parts)


def _grouped(rows: Iterable[CubeRow], key: Callable[[CubeRow], Hashable]) -> dict[Hashable, list[CubeRow]]:
    out: dict[Hashable, list[CubeRow]] = {}
    for row in rows:
        out.setdefault(key(row), []).append(row)
    return out


def _cost(rows: Iterable[CubeRow]) -> float:
    total = 0.0
    for row in rows:
        total += row.cost_usd
    return total


def providers_of(cube: list[CubeRow]) -> list[ProviderTotals]:
    """Per provider, provider ASC."""
    return [
        ProviderTotals(
            str(name),
            sum(r.request_count for r in rows),
            sum(r.input_tokens for r in rows),
            sum(r.output_tokens for r in rows),
            sum(r.total_tokens for r in rows),
            _cost(rows),
        )
        for name, rows in _grouped(cube, lambda r: r.provider).items()
    ]


def models_of(cube: list[CubeRow]) -> list[ModelStats]:
    """Per model: count DESC, model ASC. `avg_ttft_ms` counts non-streaming zeros (http-api.md §8)."""
    out = []
    for name, rows in _grouped(cube, lambda r: r.model).items():
        n = sum(r.request_count for r in rows)
        latency, ttft = sum(r.latency_ms for r in rows), sum(r.ttft_ms for r in rows)
        tokens = sum(r.total_tokens for r in rows)
        out.append(ModelStats(str(name), n, average(latency, n), average(ttft, n), tokens, _cost(rows)))
    return sorted(out, key=lambda m: (-m.request_count, m.model))


def keys_of(cube: list[CubeRow]) -> list[KeyStats]:
    """Per non-empty `api_key_hash`: count DESC, hash ASC; `last_active_at` = max `created_at`."""
    out = []
    for name, rows in _grouped((r for r in cube if r.api_key_hash), lambda r: r.api_key_hash).items():
        seen = [r.last_created_at for r in rows if r.last_created_at is not None]
        out.append(
            KeyStats(
                str(name),
                sum(r.request_count for r in rows),
                sum(r.total_tokens for r in rows),
                _cost(rows),
                max(seen) if seen else None,
            )
        )
    return sorted(out, key=lambda k: (-k.request_count, k.api_key_hash))


def usage_of(cube: list[CubeRow]) -> UsageSummary:
    return UsageSummary(
        sum(r.input_tokens for r in cube),
        sum(r.output_tokens for r in cube),
        sum(r.total_tokens for r in cube),
    )


def summary_of(cube: list[CubeRow]) -> Summary:
    """http-api.md §8 "Summary": usage and cost totals, `total_requests` = Σ model counts, `active_keys` =
    key rows, `top_model` = the first model with the strictly highest count in model-stats order.
    """
    usage, models = usage_of(cube), models_of(cube)
    return Summary(
        total_requests=sum(m.request_count for m in models),
        total_input_tokens=usage.total_input_tokens,
        total_output_tokens=usage.total_output_tokens,
        total_tokens=usage.total_tokens,
        total_cost_usd=_cost(cube),
        active_keys=len(keys_of(cube)),
        top_model=models[0].model if models else "",
    )


async def usage_summary(conn: AsyncConnection, f: AnalyticsFilter) -> UsageSummary:
    """Token totals over the filtered traces (raises like `usage_cube`)."""
    return usage_of(await usage_cube(conn, f))


async def cost_summary(conn: AsyncConnection, f: AnalyticsFilter) -> CostSummary:
    """Estimated cost total over the filtered traces (raises like `usage_cube`)."""
    return CostSummary(_cost(await usage_cube(conn, f)))


async def provider_totals(conn: AsyncConnection, f: AnalyticsFilter) -> list[ProviderTotals]:
    """Per-provider totals, provider ASC (raises like `usage_cube`)."""
    return providers_of(await usage_cube(conn, f))


async def model_stats(conn: AsyncConnection, f: AnalyticsFilter) -> list[ModelStats]:
    """Per-model stats, count DESC then model ASC (raises like `usage_cube`)."""
    return models_of(await usage_cube(conn, f))


async def key_stats(conn: AsyncConnection, f: AnalyticsFilter) -> list[KeyStats]:
    """Per-key stats for non-empty hashes, count DESC then hash ASC (raises like `usage_cube`)."""
    return keys_of(await usage_cube(conn, f))


async def summary(conn: AsyncConnection, f: AnalyticsFilter) -> Summary:
    """The overview in one grouped query (raises like `usage_cube`)."""
    return summary_of(await usage_cube(conn, f))
