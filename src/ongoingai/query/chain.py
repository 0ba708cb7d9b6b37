"""Reading one lineage chain: the traces of a group / thread / run, newest first, up to a limit.

Replay (traces-and-lineage.md §6) and `debug` (config-and-cli.md §6) page through these traces 200 at a
time until the limit; one query for `limit + 1` rows on the indexed `(column, created_at DESC, id DESC)`
answers the same set and says whether more existed. Bodies and headers are read only when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ongoingai.query.traces import TenantScope
from ongoingai.store.rows import record_from_row
from ongoingai.store.tables import traces
from ongoingai.traces import TraceRecord

_HEAVY = ("request_headers", "response_headers", "request_body", "response_body")
_LIGHT_COLUMNS = [col for col in traces.c if col.name not in _HEAVY]


@dataclass(frozen=True, slots=True)
class ChainFilter:
    """Exact matches on `trace_group_id` and the lineage thread/run columns; empty means "any"."""

    group_id: str = ""
    thread_id: str = ""
    run_id: str = ""
    scope: TenantScope | None = None

    @property
    def empty(self) -> bool:
        return not (self.group_id or self.thread_id or self.run_id)


@dataclass(frozen=True, slots=True)
class Chain:
    items: list[TraceRecord]  # newest first
    truncated: bool  # more matching traces existed beyond the limit


def chain_conditions(f: ChainFilter) -> list[sa.ColumnElement[bool]]:
    c = traces.c
    out: list[sa.ColumnElement[bool]] = []
    if f.group_id:
        out.append(c.trace_group_id == f.group_id)
    if f.thread_id:
        out.append(c.lineage_thread_id == f.thread_id)
    if f.run_id:
        out.append(c.lineage_run_id == f.run_id)
    if f.scope is not None:
        out.extend([c.org_id == f.scope.org_id, c.workspace_id == f.scope.workspace_id])
    return out


async def fetch_chain(conn: AsyncConnection, f: ChainFilter, limit: int, *, full: bool = False) -> Chain:
    """The newest `limit` traces matching `f` (none when the filter is empty).

    `full=False` leaves headers and bodies empty. Raises `sqlalchemy.exc.SQLAlchemyError` on store failure.
    """
    if f.empty or limit <= 0:
        return Chain([], False)
    columns = list(traces.c) if full else _LIGHT_COLUMNS
    query = (
        sa.select(*columns)
        .where(*chain_conditions(f))
        .order_by(traces.c.created_at.desc(), traces.c.id.desc())
        .limit(limit + 1)
    )
    rows = (await conn.execute(query)).mappings().all()
    blank = {} if full else dict.fromkeys(_HEAVY)
    items = [record_from_row({**blank, **row}) for row in rows[:limit]]
    return Chain(items, len(rows) > limit)


async def newest_trace(conn: AsyncConnection, f: ChainFilter) -> TraceRecord | None:
    """The newest trace matching `f` (any trace when `f` is empty), with headers and bodies."""
    query = (
        sa.select(traces)
        .where(*chain_conditions(f))
        .order_by(traces.c.created_at.desc(), traces.c.id.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).mappings().first()
    return record_from_row(row) if row is not None else None
