"""Row-level security behind the API's reads (issue 4): every tenant-scoped read runs on
`api.context.read_connection`, a read-only transaction confined to the caller's tenant.

The gateway connects as a role created `NOSUPERUSER NOBYPASSRLS` (DEVIATIONS.md "Tests against
Postgres"; a superuser bypasses RLS). The queries are then called with the application's tenant filter
deliberately wrong (another tenant's scope) or missing: Postgres still returns nothing of another tenant.
The same calls on a superuser connection do return those rows, so each check can fail.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request

from ongoingai.api import TENANT_SCOPE_KEY
from ongoingai.api.context import read_connection
from ongoingai.auth.audit import AuditEvent
from ongoingai.auth.stores import SqlAuditLog
from ongoingai.query import TenantScope, TraceFilter, get_trace, list_traces
from ongoingai.query.analytics import AnalyticsFilter
from ongoingai.query.analytics_totals import summary
from ongoingai.query.audit import AuditFilter, list_audit_events
from ongoingai.query.replay import ReplayRequest, TraceNotFound, replay
from ongoingai.store import SqlTraceStore, open_trace_store
from ongoingai.store.tenancy import bypasses_row_level_security
from tests.auth.conftest import Stack, StackFactory, with_auth
from tests.conftest import server_dsn
from tests.fakes.storage import storage_settings
from tests.fakes.trace_records import make_record, trace_id

pytestmark = pytest.mark.postgres

A = TenantScope("acme", "ws-a")
B = TenantScope("globex", "ws-a")  # same workspace name in another org: a workspace-only filter leaks
NOW = datetime(2025, 6, 1, tzinfo=UTC)
A_TRACES, B_TRACES = [trace_id(n) for n in (1, 2)], [trace_id(n) for n in (11, 12)]


def as_role(dsn: str, role: str) -> str:
    parts = urlsplit(dsn)
    netloc = f"{role}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


async def _run(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=3)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class World:
    admin: SqlTraceStore  # superuser: bypasses RLS (the control)
    app: SqlTraceStore  # the gateway's role: subject to RLS
    dsn: str


@pytest.fixture
def app_role(postgres_migrated_dsn: str) -> Iterator[str]:
    """A login role subject to RLS (roles are cluster-wide: a fresh name, dropped afterwards)."""
    name = "ongoingai_app_" + secrets.token_hex(4)
    asyncio.run(_run(server_dsn(), f'CREATE ROLE "{name}" LOGIN NOSUPERUSER NOBYPASSRLS'))
    yield name
    asyncio.run(_run(postgres_migrated_dsn, f'DROP OWNED BY "{name}"'))
    asyncio.run(_run(server_dsn(), f'DROP ROLE IF EXISTS "{name}"'))


async def grant(store: SqlTraceStore, role: str) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(sa.text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
        await conn.execute(
            sa.text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"')
        )


@pytest.fixture
async def world(postgres_migrated_dsn: str, app_role: str, tmp_path: Path) -> AsyncIterator[World]:
    admin = await open_trace_store(storage_settings("postgres", tmp_path, postgres_migrated_dsn))
    records = [make_record(n, org_id=A.org_id, workspace_id=A.workspace_id) for n in (1, 2)]
    records += [make_record(n, org_id=B.org_id, workspace_id=B.workspace_id) for n in (11, 12)]
    assert (await admin.write_batch(records)).written == 4
    await SqlAuditLog(admin.engine).write_audit_events(
        [
            AuditEvent(id=f"e-{s.org_id}", created_at=NOW, action="auth.deny", outcome="denied",
                       org_id=s.org_id, workspace_id=s.workspace_id)
            for s in (A, B)
        ]
    )  # fmt: skip
    await grant(admin, app_role)
    dsn = as_role(postgres_migrated_dsn, app_role)
    app = await open_trace_store(storage_settings("postgres", tmp_path, dsn), migrate=False)
    yield World(admin, app, dsn)
    await app.close()
    await admin.close()


def request_of(scope: TenantScope | None) -> Request:
    """What the auth layer leaves for an API handler: the caller's tenant in the ASGI scope."""
    asgi: dict[str, object] = {"type": "http", "method": "GET", "path": "/api/traces", "headers": []}
    if scope is not None:
        asgi[TENANT_SCOPE_KEY] = scope
    return Request(asgi)


async def test_the_roles_are_what_the_test_claims(world: World) -> None:
    assert await bypasses_row_level_security(world.admin.engine)
    assert not await bypasses_row_level_security(world.app.engine)


async def visible_traces(conn: AsyncConnection, scope: TenantScope | None) -> list[str]:
    return sorted(t.id for t in (await list_traces(conn, TraceFilter(scope=scope))).items)


@pytest.mark.parametrize("wrong", [None, B], ids=["filter-missing", "other-tenants-filter"])
async def test_a_trace_list_with_a_wrong_filter_still_sees_only_the_callers_tenant(
    world: World, wrong: TenantScope | None
) -> None:
    async with read_connection(request_of(A), world.app) as conn:
        seen = await visible_traces(conn, wrong)
    assert seen == ([] if wrong == B else A_TRACES)
    async with read_connection(request_of(A), world.admin) as conn:  # control: the rows exist
        assert await visible_traces(conn, wrong) == (B_TRACES if wrong == B else A_TRACES + B_TRACES)


@pytest.mark.parametrize("wrong", [None, B], ids=["filter-missing", "other-tenants-filter"])
async def test_another_tenants_trace_detail_and_replay_are_not_found_under_rls(
    world: World, wrong: TenantScope | None
) -> None:
    async with read_connection(request_of(A), world.app) as conn:
        assert await get_trace(conn, B_TRACES[0], wrong) is None
        with pytest.raises(TraceNotFound):
            await replay(conn, B_TRACES[0], ReplayRequest("", "", "", 10), wrong)
        assert await get_trace(conn, A_TRACES[0], None) is not None
    async with read_connection(request_of(A), world.admin) as conn:
        assert await get_trace(conn, B_TRACES[0], wrong) is not None


@pytest.mark.parametrize("wrong", [None, B], ids=["filter-missing", "other-tenants-filter"])
async def test_analytics_with_a_wrong_filter_count_only_the_callers_tenant(
    world: World, wrong: TenantScope | None
) -> None:
    async with read_connection(request_of(A), world.app) as conn:
        counted = (await summary(conn, AnalyticsFilter(scope=wrong))).as_dict()["total_requests"]
    assert counted == (0 if wrong == B else 2)
    async with read_connection(request_of(A), world.admin) as conn:
        assert (await summary(conn, AnalyticsFilter(scope=wrong))).as_dict()["total_requests"] == (
            2 if wrong == B else 4
        )


@pytest.mark.parametrize("wrong", [None, B], ids=["filter-missing", "other-tenants-filter"])
async def test_audit_reads_with_a_wrong_filter_see_only_the_callers_tenant(
    world: World, wrong: TenantScope | None
) -> None:
    async with read_connection(request_of(A), world.app) as conn:
        page = await list_audit_events(conn, AuditFilter(scope=wrong))
    assert [e.id for e in page.items] == ([] if wrong == B else ["e-acme"])


async def test_the_read_connection_cannot_write(world: World) -> None:
    with pytest.raises(sa_exc.DBAPIError, match="read-only transaction"):
        async with read_connection(request_of(A), world.app) as conn:
            await conn.execute(sa.text("DELETE FROM traces"))


async def test_the_tenant_settings_do_not_outlive_the_request(world: World) -> None:
    async with read_connection(request_of(A), world.app) as conn:
        assert await visible_traces(conn, None) == A_TRACES
    async with world.app.connect() as conn:  # the pooled connection, unscoped again: the CLI's path
        assert await visible_traces(conn, None) == A_TRACES + B_TRACES


async def test_unscoped_reads_use_a_plain_connection(world: World) -> None:
    """Auth off (no tenant scope) and the operator CLI: no tenant settings, every tenant's rows."""
    async with read_connection(request_of(None), world.app) as conn:
        assert await visible_traces(conn, None) == A_TRACES + B_TRACES
        await conn.execute(sa.text("SELECT 1"))


async def test_the_api_answers_under_rls_with_the_gateways_restricted_role(
    world: World, make_stack: StackFactory, tmp_path: Path
) -> None:
    """End to end: the whole API on the restricted role, with real keys: reads work and stay confined."""
    keys = [
        {"id": "owner-a", "token": "tok-owner-a-0123456789", "role": "owner", "org_id": A.org_id,
         "workspace_id": A.workspace_id},
    ]  # fmt: skip
    stack: Stack = await make_stack(with_auth(storage_settings("postgres", tmp_path, world.dsn), keys=keys))
    token = keys[0]["token"]
    items = (await stack.call("GET", "/api/traces", token)).json()["items"]
    assert sorted(i["id"] for i in items) == A_TRACES
    assert (await stack.call("GET", f"/api/traces/{B_TRACES[0]}", token)).status_code == 404
    assert (await stack.call("GET", f"/api/traces/{A_TRACES[0]}/replay", token)).status_code == 200
    summary_body = (await stack.call("GET", "/api/analytics/summary", token)).json()
    assert summary_body["total_requests"] == 2
    audit = (await stack.call("GET", "/api/audit", token)).json()["items"]
    assert {e["org_id"] for e in audit} == {A.org_id}


@pytest.mark.parametrize("superuser", [True, False], ids=["superuser", "restricted-role"])
async def test_auth_start_warns_when_the_databases_role_bypasses_rls(
    world: World,
    make_stack: StackFactory,
    postgres_migrated_dsn: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    superuser: bool,
) -> None:
    dsn = postgres_migrated_dsn if superuser else world.dsn
    keys = [{"id": "k", "token": "tok-warn-0123456789"}]
    await make_stack(with_auth(storage_settings("postgres", tmp_path, dsn), keys=keys))
    warned = "postgres role bypasses row-level security" in caplog.text
    assert warned is superuser
