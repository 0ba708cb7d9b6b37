"""Day totals from the store: what the limiter's day counters start from (at start, at each UTC midnight).

A restart then does not forget the day's spend. Reads go through `query.day_usage`; rows become the same
usage scopes the request path checks (`rules.Subject`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from ongoingai.limits.backend import Usage
from ongoingai.limits.rules import Subject
from ongoingai.query.day_usage import KeyDayUsage, usage_by_key

Connect = Callable[[], contextlib.AbstractAsyncContextManager[AsyncConnection]]


def usage_scopes(org_id: str, workspace_id: str, key_id: str) -> tuple[str, ...]:
    """The day-usage scopes a trace counts in: its workspace, and its key when it has one."""
    subject = Subject.of(org_id, workspace_id, key_id)
    return (subject.key_usage, subject.workspace_usage) if key_id else (subject.workspace_usage,)


def day_totals(rows: Iterable[KeyDayUsage]) -> dict[str, Usage]:
    totals: dict[str, Usage] = {}
    for row in rows:
        for scope in usage_scopes(row.org_id, row.workspace_id, row.gateway_key_id):
            entry = totals.get(scope)
            if entry is None:
                entry = totals[scope] = Usage()
            entry.add(row.total_tokens, row.cost_usd)
    return totals


async def read_day_totals(connect: Connect, day_start: float) -> dict[str, Usage]:
    """Totals of the UTC day starting at `day_start` (epoch seconds).

    Raises:
        sqlalchemy.exc.SQLAlchemyError, OSError, TimeoutError: the store did not answer.
    """
    start = datetime.fromtimestamp(day_start, UTC)
    async with connect() as conn:
        rows = await usage_by_key(conn, start, start + timedelta(days=1))
    return day_totals(rows)
