"""Tenant session settings for Postgres row-level security (auth-and-tenancy.md §9, migration 0003).

`scoped_begin(engine, org_id, workspace_id)` opens a transaction and, on Postgres, sets
`ongoingai.org_id` / `ongoingai.workspace_id` for that transaction only (`set_config(..., true)` is
`SET LOCAL`), so the RLS policies confine every statement in it to one tenant: a second wall behind
the explicit filters the queries add anyway. Empty values leave the policies permissive (unscoped).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_SET_TENANT = text(
    "SELECT set_config('ongoingai.org_id', :org_id, true),"
    " set_config('ongoingai.workspace_id', :workspace_id, true)"
)


async def set_tenant(conn: AsyncConnection, org_id: str, workspace_id: str) -> None:
    """Confine the current transaction to one tenant (no-op on SQLite, which has no RLS)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(_SET_TENANT, {"org_id": org_id, "workspace_id": workspace_id})


@contextlib.asynccontextmanager
async def scoped_begin(
    engine: AsyncEngine, org_id: str = "", workspace_id: str = ""
) -> AsyncIterator[AsyncConnection]:
    """A transaction confined to `org_id` / `workspace_id` when they are set; committed on success."""
    async with engine.begin() as conn:
        if org_id or workspace_id:
            await set_tenant(conn, org_id, workspace_id)
        yield conn
