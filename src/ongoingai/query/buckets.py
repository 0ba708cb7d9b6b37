"""Time buckets for analytics series (http-api.md §8 "Buckets"): UTC hour, day, or week starting Monday.

The bucket is computed in SQL so a series is one GROUP BY, never a Python loop over rows. SQLite keeps
timestamps as fixed-width UTC text (store/columns.py), so its buckets are text surgery on that form;
Postgres truncates the TIMESTAMPTZ in UTC. Constants are literal SQL, not bound parameters, so the same
expression text can appear in SELECT and GROUP BY on Postgres.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ongoingai.store.columns import UtcDateTime


class Bucket(enum.StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


def _lit(text: str) -> sa.ColumnElement[Any]:
    return sa.literal_column(f"'{text}'")


def _sqlite_bucket(column: sa.ColumnElement[Any], bucket: Bucket) -> sa.ColumnElement[Any]:
    text = sa.type_coerce(column, sa.String())
    day = sa.func.substr(text, 1, 10)
    if bucket is Bucket.HOUR:
        start = sa.func.substr(text, 1, 13).concat(_lit(":00:00"))
    elif bucket is Bucket.DAY:
        start = day.concat(_lit(" 00:00:00"))
    else:
        # Back six days, then forward to the next Monday: the Monday on or before the day.
        start = sa.func.date(day, _lit("-6 days"), _lit("weekday 1")).concat(_lit(" 00:00:00"))
    return sa.type_coerce(sa.type_coerce(start, sa.String()), UtcDateTime())


def _postgres_bucket(column: sa.ColumnElement[Any], bucket: Bucket) -> sa.ColumnElement[Any]:
    # date_trunc('week') is ISO: weeks start on Monday.
    local = sa.func.timezone(_lit("UTC"), column)
    truncated = sa.func.date_trunc(_lit(bucket.value), local)
    return sa.type_coerce(sa.func.timezone(_lit("UTC"), truncated), UtcDateTime())


def bucket_expression(column: sa.ColumnElement[Any], bucket: Bucket, dialect: str) -> sa.ColumnElement[Any]:
    """SQL for the start of `column`'s bucket, read back as an aware UTC datetime."""
    if dialect == "postgresql":
        return _postgres_bucket(column, bucket)
    return _sqlite_bucket(column, bucket)


def bucket_start(value: datetime, bucket: Bucket) -> datetime:
    """The same truncation in Python (tests and the report's day axis)."""
    utc = value.astimezone(UTC)
    if bucket is Bucket.HOUR:
        return utc.replace(minute=0, second=0, microsecond=0)
    day = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    if bucket is Bucket.DAY:
        return day
    return day - timedelta(days=day.weekday())
