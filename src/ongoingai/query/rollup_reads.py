"""Analytics from the trace rollups (migration 0004): whole days and hours from sums, partial hours raw.

A filter's `[from, to]` range is cut into pieces (`pieces`): the whole UTC days inside it, answered from
the daily rollup; the whole hours left at either side, from the hourly rollup; and at most two partial
hours at the very edges, from `traces` by the ordinary raw queries with the edge as their range (index
range on `timestamp`, under an hour of rows each). The callers add the pieces up, so an answer equals the
raw query's over the same rows: every integer exactly; float cost sums up to the rounding of a different
addition order (which the raw SQL does not fix either — it sums in whatever order its index yields).
Provider, model and the tenant scope are rollup dimensions, so every filter applies to every piece. What
the rollups cannot answer falls back to raw rows: grouping by route (request path is not a rollup
dimension, as ids in paths would make it unbounded) and latency percentiles.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ongoingai.query.buckets import Bucket, bucket_expression
from ongoingai.store.columns import to_utc
from ongoingai.store.tables import trace_rollups_daily, trace_rollups_hourly

if TYPE_CHECKING:
    from ongoingai.query.analytics import AnalyticsFilter

# Stored instants have microsecond resolution on both backends, so `t < bucket` is `t <= bucket - 1 µs`.
ONE_MICROSECOND = timedelta(microseconds=1)

# GroupBy values (a StrEnum) → rollup column name; "route" is absent on purpose (module docstring).
GROUP_COLUMNS: dict[str, str] = {"provider": "provider", "model": "model", "key": "gateway_key_id"}


def floor_hour(value: datetime) -> datetime:
    return to_utc(value).replace(minute=0, second=0, microsecond=0)


def floor_day(value: datetime) -> datetime:
    return to_utc(value).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class Level:
    table: sa.Table
    floor: Callable[[datetime], datetime]
    step: timedelta

    def ceil(self, value: datetime) -> datetime:
        floor = self.floor(value)
        return floor if floor == to_utc(value) else floor + self.step


DAYS = Level(trace_rollups_daily, floor_day, timedelta(days=1))
HOURS = Level(trace_rollups_hourly, floor_hour, timedelta(hours=1))


@dataclass(frozen=True, slots=True)
class Piece:
    """Part of a range. With a `table`: buckets `[since, until)` of that rollup (None: unbounded).
    Without: raw `traces` rows with `since <= timestamp <= until` (None: unbounded).
    """

    table: sa.Table | None
    since: datetime | None
    until: datetime | None


def pieces(since: datetime | None, until: datetime | None, levels: tuple[Level, ...]) -> list[Piece]:
    """Cut `[since, until]` into whole buckets of the coarsest level that fits, then finer, then raw."""
    if not levels:
        return [Piece(None, since, until)]
    level, finer = levels[0], levels[1:]
    first = None if since is None else level.ceil(since)
    # The bucket starting at b is whole iff b + step - 1 µs <= until.
    end = None if until is None else level.floor(until + ONE_MICROSECOND)
    if first is not None and end is not None and first >= end:
        return pieces(since, until, finer)
    out = [Piece(level.table, first, end)]
    if since is not None and first is not None and to_utc(since) < first:
        out += pieces(since, first - ONE_MICROSECOND, finer)
    if until is not None and end is not None and end <= to_utc(until):
        out += pieces(end, until, finer)
    return out


def levels_for(bucket: Bucket | None) -> tuple[Level, ...]:
    """Hourly series need hour buckets; every other answer may use whole days too."""
    return (HOURS,) if bucket is Bucket.HOUR else (DAYS, HOURS)


def raw_filter(f: AnalyticsFilter, piece: Piece) -> AnalyticsFilter:
    return dataclasses.replace(f, since=piece.since, until=piece.until)


def _columns(piece: Piece) -> Any:
    if piece.table is None:
        raise ValueError("a raw piece is answered from traces, not from a rollup")
    return piece.table.c


def rollup_conditions(f: AnalyticsFilter, piece: Piece) -> list[sa.ColumnElement[bool]]:
    r = _columns(piece)
    out: list[sa.ColumnElement[bool]] = []
    if piece.since is not None:
        out.append(r.bucket_start >= piece.since)
    if piece.until is not None:
        out.append(r.bucket_start < piece.until)
    if f.provider:
        out.append(r.provider == f.provider)
    if f.model:
        out.append(r.model == f.model)
    if f.scope is not None:
        out.extend([r.org_id == f.scope.org_id, r.workspace_id == f.scope.workspace_id])
    return out


def _sum(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(column), 0)


def cube_query(f: AnalyticsFilter, piece: Piece) -> sa.Select[Any]:
    """The raw cube's columns (analytics_totals.usage_cube) over one rollup piece."""
    r = _columns(piece)
    return (
        sa.select(
            r.provider,
            r.model,
            r.api_key_hash,
            _sum(r.request_count),
            _sum(r.input_tokens),
            _sum(r.output_tokens),
            _sum(r.total_tokens),
            _sum(r.cost_usd),
            _sum(r.latency_ms_sum),
            _sum(r.ttft_ms_sum),
            sa.func.max(r.last_created_at),
        )
        .where(*rollup_conditions(f, piece))
        .group_by(r.provider, r.model, r.api_key_hash)
    )


# Series value name (as analytics._series_query labels it) → rollup column name.
SERIES_VALUES: dict[str, str] = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "total_tokens": "total_tokens",
    "total_cost_usd": "cost_usd",
}


def series_query(
    f: AnalyticsFilter, piece: Piece, group: str | None, bucket: Bucket, dialect: str, values: list[str]
) -> sa.Select[Any]:
    """`bucket_start, grp, request_count, <values>` per bucket and group over the whole hours.

    The bucket is the same SQL expression the raw series applies to `timestamp`, here applied to the
    rollup bucket's start, so every piece names a bucket identically.
    """
    r = _columns(piece)
    bucket_start = bucket_expression(r.bucket_start, bucket, dialect).label("bucket_start")
    grp = (r[GROUP_COLUMNS[group]] if group else sa.literal_column("''")).label("grp")
    sums = [_sum(r[SERIES_VALUES[name]]).label(name) for name in values]
    query = sa.select(bucket_start, grp, _sum(r.request_count).label("request_count"), *sums)
    # Postgres rejects a constant in GROUP BY: the ungrouped series groups by bucket only.
    return query.where(*rollup_conditions(f, piece)).group_by(bucket_start, *([grp] if group else []))


def errors_query(f: AnalyticsFilter, piece: Piece, group: str | None) -> sa.Select[Any]:
    """`grp, total, 4xx, 5xx` per group (one row when ungrouped) over one rollup piece."""
    r = _columns(piece)
    grp = (r[GROUP_COLUMNS[group]] if group else sa.literal_column("''")).label("grp")
    query = sa.select(grp, _sum(r.request_count), _sum(r.error_4xx), _sum(r.error_5xx)).where(
        *rollup_conditions(f, piece)
    )
    return query.group_by(grp) if group else query


def answers(group: str | None) -> bool:
    """Whether the rollup can answer a grouping (None: ungrouped)."""
    return group is None or group in GROUP_COLUMNS
