"""What the API handlers read: settings, the store, the sink, start time and clock (`app.state.ctx`),
and the one way they get a read connection (`read_connection`)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request

from ongoingai.config import Settings
from ongoingai.query import TenantScope
from ongoingai.sink import TraceSink
from ongoingai.store import SqlTraceStore
from ongoingai.store.tenancy import scoped_read

# The auth layer (issue: auth) puts the caller's TenantScope here; absent means unscoped.
TENANT_SCOPE_KEY = "ongoingai.tenant_scope"


@dataclass(frozen=True, slots=True)
class ApiContext:
    settings: Settings
    store: SqlTraceStore | None
    sink: TraceSink | None
    started_at: datetime
    clock: Callable[[], datetime]
    version: str


def context_of(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def tenant_scope_of(request: Request) -> TenantScope | None:
    scope = request.scope.get(TENANT_SCOPE_KEY)
    return scope if isinstance(scope, TenantScope) else None


def read_connection(request: Request, store: SqlTraceStore) -> AbstractAsyncContextManager[AsyncConnection]:
    """The connection every tenant-scoped API read runs on (auth-and-tenancy.md §8–9, issue 4).

    Scoped, it is a read-only transaction confined to the caller's tenant, so on Postgres row-level
    security returns nothing of another tenant even if a query's own tenant filter were wrong or
    missing. Unscoped (auth off), a plain connection, as the CLI's offline reads use.
    """
    scope = tenant_scope_of(request)
    if scope is None:
        return store.connect()
    return scoped_read(store.engine, scope.org_id, scope.workspace_id)
