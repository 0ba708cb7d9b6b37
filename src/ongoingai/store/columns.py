"""Column types that hide the two backends' differences: UTC timestamps and JSON documents.

SQLite has no timestamp type, so instants are stored as one fixed-width sortable UTC text form and every
bound parameter uses the same form, which keeps range and cursor comparisons correct as plain text
comparisons (traces-and-lineage.md §3). Postgres gets TIMESTAMPTZ and JSONB.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

# `YYYY-MM-DD HH:MM:SS.ffffff+00:00`: 32 characters, lexical order = time order.
SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f+00:00"

_TEXT_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*([Zz]|[+-]\d{2}:?\d{2})?$"
)


def to_utc(value: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_sqlite_time(value: datetime) -> str:
    return to_utc(value).strftime(SQLITE_TIME_FORMAT)


def parse_stored_time(text: str) -> datetime:
    """Read any form a SQLite row may hold: ours, RFC 3339, or `CURRENT_TIMESTAMP`'s space form."""
    match = _TEXT_TIME.match(text.strip())
    if match is None:
        raise ValueError(f"unrecognised stored timestamp {text!r}")
    year, month, day, hour, minute, second, frac, zone = match.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    parsed = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=UTC)
    if zone is None or zone in ("Z", "z"):
        return parsed
    offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:]))
    return parsed - offset if zone[0] == "+" else parsed + offset


class UtcDateTime(TypeDecorator[datetime]):
    """TIMESTAMPTZ on Postgres, fixed-width UTC text on SQLite; Python side always aware UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return format_sqlite_time(value)
        return to_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return to_utc(value)
        return parse_stored_time(str(value))


class JsonDocument(TypeDecorator[Any]):
    """JSONB on Postgres, JSON text on SQLite; an empty document is stored as NULL on Postgres."""

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(sa.Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return value
        return orjson.dumps(value).decode()

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None or not isinstance(value, str | bytes):
            return value
        if not value:
            return None
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            # Only a hand-edited row can hold invalid JSON; keep the raw text rather than fail the read.
            return value
