"""Tokens and cost per (org, workspace, gateway key) over a time range: the limiter's seed (issue 8).

The limiter keeps running day counters and reads this only when it starts and at each UTC day boundary,
never on a request's path. The filter is on `timestamp`, like the original's daily quota queries
(limits.md §3.1), and uses the (timestamp) index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ongoingai.store.tables import traces

c = traces.c


@dataclass(frozen=True, slots=True)
class KeyDayUsage:
    org_id: str
    workspace_id: str
    gateway_key_id: str  # "" for traces without a gateway key
    total_tokens: int
    cost_usd: float


async def usage_by_key(conn: AsyncConnection, start: datetime, end: datetime) -> list[KeyDayUsage]:
    """SUM(total_tokens), SUM(estimated_cost_usd) per (org, workspace, key) for start <= timestamp < end.

    Unscoped on purpose: the limiter seeds every tenant's counters at once.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the store failed (the limiter retries the seed later).
    """
    key = sa.func.coalesce(c.gateway_key_id, sa.literal_column("''")).label("gateway_key_id")
    query = (
        sa.select(
            c.org_id,
            c.workspace_id,
            key,
            sa.func.coalesce(sa.func.sum(c.total_tokens), 0),
            sa.func.coalesce(sa.func.sum(c.estimated_cost_usd), 0),
        )
        .where(c.timestamp >= start, c.timestamp < end)
        .group_by(c.org_id, c.workspace_id, key)
    )
    rows = (await conn.execute(query)).all()
    return [
        KeyDayUsage(str(org), str(workspace), str(key_id or ""), int(tokens or 0), float(cost or 0))
        for org, workspace, key_id, tokens, cost in rows
    ]
