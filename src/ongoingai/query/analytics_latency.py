"""Latency and error-rate analytics (http-api.md §8), grouped by provider, model, route or key.

Latency percentiles need ordered values, but never all of them: one query numbers each group's latencies
in SQL (`ROW_NUMBER() OVER (PARTITION BY group ORDER BY latency)`) and returns only the rows at the
positions min, max and the interpolated percentiles read — at most 8 per group, whatever the row count —
with the group's count and sum from window aggregates. Interpolation is then exact integer arithmetic
(percentiles.py). Error counts come from the rollups plus the raw partial hours (rollup_reads.py),
except per route. Order everywhere: count DESC, then group ASC (DEVIATIONS.md "Latency group order").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ongoingai.query import rollup_reads
from ongoingai.query.analytics import AnalyticsFilter, GroupBy, conditions, group_expression
from ongoingai.query.percentiles import PERCENTILES, interpolate
from ongoingai.store.tables import traces

c = traces.c


@dataclass(frozen=True, slots=True)
class LatencyStats:
    group: str
    request_count: int
    avg_ms: float
    min_ms: int
    max_ms: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group": self.group} if self.group else {}
        out |= {"request_count": self.request_count, "avg_ms": self.avg_ms}
        out |= {"min_ms": self.min_ms, "max_ms": self.max_ms}
        out |= {"p50_ms": self.p50_ms, "p95_ms": self.p95_ms, "p99_ms": self.p99_ms}
        return out


@dataclass(frozen=True, slots=True)
class ErrorStats:
    group: str
    total_requests: int
    error_count_4xx: int
    error_count_5xx: int
    error_rate: float

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group": self.group} if self.group else {}
        out |= {"total_requests": self.total_requests, "error_count_4xx": self.error_count_4xx}
        out |= {"error_count_5xx": self.error_count_5xx, "error_rate": self.error_rate}
        return out


@dataclass(frozen=True, slots=True)
class GroupedStats:
    """`{"group_by"?, "items": [...]}`. Ungrouped answers always hold one item (zeros for no rows)."""

    group_by: GroupBy | None
    items: list[LatencyStats] | list[ErrorStats] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group_by": self.group_by.value} if self.group_by is not None else {}
        out["items"] = [item.as_dict() for item in self.items]
        return out


@dataclass
class _Group:
    n: int = 0
    total: int = 0
    values: dict[int, int] = field(default_factory=dict)

    def stats(self, group: str) -> LatencyStats:
        p50, p95, p99 = (interpolate(self.values, self.n, pct) for pct in PERCENTILES)
        low = self.values.get(0, 0)
        high = self.values.get(self.n - 1, 0)
        avg = self.total / self.n if self.n else 0.0
        return LatencyStats(group, self.n, avg, low, high, p50, p95, p99)


def _latency_query(f: AnalyticsFilter, group_by: GroupBy | None) -> sa.Select[Any]:
    grp = group_expression(group_by)
    latency = sa.func.coalesce(c.latency_ms, 0)  # http-api.md §8: NULL latency counts as 0
    numbered = (
        sa.select(
            grp.label("grp"),
            latency.label("v"),
            (sa.func.row_number().over(partition_by=grp, order_by=latency) - 1).label("k"),
            sa.func.count().over(partition_by=grp).label("n"),
            sa.func.sum(latency).over(partition_by=grp).label("s"),
        )
        .where(*conditions(f))
        .subquery()
    )
    last = numbered.c.n - 1
    positions: list[sa.ColumnElement[Any]] = [sa.literal(0), last]
    for pct in PERCENTILES:
        low = last * pct // 100
        positions += [low, low + 1]
    wanted = sa.or_(*(numbered.c.k == p for p in positions))
    return sa.select(numbered.c.grp, numbered.c.k, numbered.c.v, numbered.c.n, numbered.c.s).where(wanted)


async def latency_stats(conn: AsyncConnection, f: AnalyticsFilter, group_by: GroupBy | None) -> GroupedStats:
    """Count, average, min, max and p50/p95/p99 of `latency_ms` per group (count DESC, group ASC).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the store failed (API: `500 failed to read analytics`).
    """
    groups: dict[str, _Group] = defaultdict(_Group)
    for grp, k, v, n, s in (await conn.execute(_latency_query(f, group_by))).all():
        group = groups[grp]
        group.n, group.total = int(n), int(s or 0)
        group.values[int(k)] = int(v)
    if group_by is None and not groups:
        groups[""] = _Group()
    # A handful of groups: sorting here is the same byte order as SQL's `COLLATE "C"`.
    ordered = sorted(groups.items(), key=lambda kv: (-kv[1].n, kv[0]))
    return GroupedStats(group_by, [g.stats(name) for name, g in ordered])


ErrorRow = tuple[str, int, int, int]  # group, total, 4xx, 5xx


async def raw_error_rows(
    conn: AsyncConnection, f: AnalyticsFilter, group_by: GroupBy | None
) -> list[ErrorRow]:
    """Totals, 4xx and 5xx per group from `traces` alone (one row when ungrouped)."""
    grp = group_expression(group_by).label("grp")
    status = sa.func.coalesce(c.response_status, 0)
    query = sa.select(
        grp,
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(sa.case((status.between(400, 499), 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((status >= 500, 1), else_=0)), 0),
    ).where(*conditions(f))
    if group_by is not None:
        query = query.group_by(grp)
    return [
        (name or "", int(n), int(e4 or 0), int(e5 or 0))
        for name, n, e4, e5 in (await conn.execute(query)).all()
    ]


async def error_rows(conn: AsyncConnection, f: AnalyticsFilter, group_by: GroupBy | None) -> list[ErrorRow]:
    """`raw_error_rows` answered from the rollups plus the raw partial hours where they can be."""
    group = None if group_by is None else group_by.value
    if not rollup_reads.answers(group):
        return await raw_error_rows(conn, f, group_by)
    parts: list[ErrorRow] = []
    for piece in rollup_reads.pieces(f.since, f.until, rollup_reads.levels_for(None)):
        if piece.table is None:
            parts += await raw_error_rows(conn, rollup_reads.raw_filter(f, piece), group_by)
        else:
            rows = (await conn.execute(rollup_reads.errors_query(f, piece, group))).all()
            parts += [(name or "", int(n or 0), int(e4 or 0), int(e5 or 0)) for name, n, e4, e5 in rows]
    merged: dict[str, list[int]] = {}
    for name, n, e4, e5 in parts:
        sums = merged.setdefault(name, [0, 0, 0])
        sums[0], sums[1], sums[2] = sums[0] + n, sums[1] + e4, sums[2] + e5
    return [(name, n, e4, e5) for name, (n, e4, e5) in merged.items()]


async def error_stats(conn: AsyncConnection, f: AnalyticsFilter, group_by: GroupBy | None) -> GroupedStats:
    """Totals, 4xx (400–499), 5xx (≥ 500) and error rate per group: total DESC, group ASC.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the store failed (API: `500 failed to read analytics`).
    """
    rows = await error_rows(conn, f, group_by)
    # Code-point order, the same as SQL's `COLLATE "C"` (DEVIATIONS.md "Latency group order").
    items = [
        ErrorStats(name, n, e4, e5, (e4 + e5) / n if n else 0.0)
        for name, n, e4, e5 in sorted(rows, key=lambda row: (-row[1], row[0]))
    ]
    return GroupedStats(group_by, items)
