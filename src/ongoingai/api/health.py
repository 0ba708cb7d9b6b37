"""`GET /`, `GET /api/health` and `GET /api/ready` (http-api.md §2–3, DEVIATIONS.md "Readiness")."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ongoingai.api.context import context_of
from ongoingai.api.render import json_response
from ongoingai.api.traces import STORE_ERRORS
from ongoingai.query import count_traces
from ongoingai.store import MigrationState, StoreUnavailable

logger = logging.getLogger(__name__)

_MIGRATION_CHECK = {
    MigrationState.CURRENT: "ok",
    MigrationState.BEHIND: "schema behind",
    MigrationState.UNKNOWN: "unknown revision",
}


async def get_root(request: Request) -> Response:
    return json_response(
        {"name": "ongoingai gateway", "version": context_of(request).version, "status": "ok"}
    )


async def get_health(request: Request) -> Response:
    ctx = context_of(request)
    body: dict[str, Any] = {
        "status": "ok",
        "version": ctx.version,
        "uptime_sec": max(int((ctx.clock() - ctx.started_at).total_seconds()), 0),
        "storage_driver": ctx.settings.storage.driver,
        "trace_count": 0,
    }
    if ctx.store is not None:
        try:
            async with ctx.store.connect() as conn:
                body["trace_count"] = await count_traces(conn)
        except STORE_ERRORS:
            logger.warning("health trace count failed")  # spec: 0 when the query fails
        if size := ctx.store.db_size_bytes():
            body["db_size_bytes"] = size
    return json_response(body)


async def get_ready(request: Request) -> Response:
    store = context_of(request).store
    checks = {"storage": "not configured", "migrations": "not checked"}
    if store is not None:
        try:
            await store.ping()
            checks["storage"] = "ok"
            checks["migrations"] = _MIGRATION_CHECK[await store.migration_status()]
        except (StoreUnavailable, *STORE_ERRORS):
            checks["storage"] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return json_response(
        {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
    )
