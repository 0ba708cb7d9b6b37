"""What the API handlers read: settings, the store, the sink, start time and clock (`app.state.ctx`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request

from ongoingai.config import Settings
from ongoingai.query import TenantScope
from ongoingai.sink import TraceSink
from ongoingai.store import SqlTraceStore

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
