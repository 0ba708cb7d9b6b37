"""Tenant session settings for Postgres row-level security (auth-and-tenancy.md §9, migration 0003).

`scoped_begin(engine, org_id, workspace_id)` opens a transaction and, on Postgres, sets
`ongoingai.org_id` / `ongoingai.workspace_id` for that transaction only (`set_config(..., true)` is
`SET LOCAL`), so the RLS policies confine every statement in it to one tenant: a second wall behind
the explicit filters the queries add anyway. Empty values leave the policies permissive (unscoped).
`scoped_read` is the same wall for the API's reads, in a read-only transaction that is never committed.

The wall stands only when the gateway's database role is subject to RLS: `NOSUPERUSER NOBYPASSRLS`
(the policies are forced, so owning the tables does not exempt it). `bypasses_row_level_security`
tells the operator when it does not.
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
# One round trip: the tenant, and read-only so that a read path can never write through this wall.
_SET_TENANT_READ_ONLY = text(
    "SELECT set_config('ongoingai.org_id', :org_id, true),"
    " set_config('ongoingai.workspace_id', :workspace_id, true),"
    " set_config('transaction_read_only', 'on', true)"
)
_BYPASSES_RLS = text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")


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


@contextlib.asynccontextmanager
async def scoped_read(engine: AsyncEngine, org_id: str, workspace_id: str) -> AsyncIterator[AsyncConnection]:
    """A read-only connection confined to one tenant on Postgres; plain on SQLite (no RLS there).

    The settings live in the transaction SQLAlchemy begins with the first statement, which ends
    (rolled back) when the connection goes back to the pool: every query run on `conn` meanwhile is
    confined, and nothing of it outlives the request.
    """
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(_SET_TENANT_READ_ONLY, {"org_id": org_id, "workspace_id": workspace_id})
        yield conn


async def bypasses_row_level_security(engine: AsyncEngine) -> bool:
    """True on Postgres when the connected role is a superuser or has BYPASSRLS (the wall is down)."""
    if engine.dialect.name != "postgresql":
        return False
    async with engine.connect() as conn:
        return bool(await conn.scalar(_BYPASSES_RLS))
