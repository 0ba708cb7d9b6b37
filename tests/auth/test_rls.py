"""Postgres row-level security as the second wall (DEVIATIONS.md "Tests against Postgres").

A role created `NOSUPERUSER NOBYPASSRLS` (superusers bypass RLS) runs deliberately unfiltered queries
inside transactions confined with `SET LOCAL ongoingai.org_id / ongoingai.workspace_id` (what
`store.tenancy.scoped_begin` does); only the tenant's rows come back, and a write into another
tenant is refused.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ongoingai.auth.audit import AuditEvent
from ongoingai.auth.keys import GatewayKey
from ongoingai.auth.stores import SqlAuditLog, SqlKeyStore
from ongoingai.store import SqlTraceStore, open_trace_store
from ongoingai.store.tenancy import scoped_begin
from tests.fakes.storage import storage_settings
from tests.fakes.trace_records import make_record

pytestmark = pytest.mark.postgres

TENANTS = [("acme", "ws-a"), ("acme", "ws-b"), ("globex", "ws-a")]
NOW = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture
async def store(postgres_migrated_dsn: str, tmp_path: object) -> AsyncIterator[SqlTraceStore]:
    opened = await open_trace_store(storage_settings("postgres", tmp_path, postgres_migrated_dsn))  # type: ignore[arg-type]
    keys, audit = SqlKeyStore(opened.engine), SqlAuditLog(opened.engine)
    for n, (org, ws) in enumerate(TENANTS):
        await keys.create(
            GatewayKey(id=f"k{n}", token_hash=f"h{n}", org_id=org, workspace_id=ws, created_at=NOW)
        )
        await audit.write_audit_events(
            [
                AuditEvent(
                    id=f"a{n}",
                    created_at=NOW,
                    action="auth.deny",
                    outcome="denied",
                    org_id=org,
                    workspace_id=ws,
                )
            ]
        )
    await opened.write_batch(
        [make_record(n, org_id=org, workspace_id=ws) for n, (org, ws) in enumerate(TENANTS)]
    )
    yield opened
    await opened.close()


@pytest.fixture
async def role(store: SqlTraceStore) -> AsyncIterator[str]:
    name = "ongoingai_rls_" + secrets.token_hex(4)
    async with store.engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE ROLE "{name}" NOSUPERUSER NOBYPASSRLS NOLOGIN'))
        await conn.execute(sa.text(f'GRANT USAGE ON SCHEMA public TO "{name}"'))
        await conn.execute(
            sa.text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{name}"')
        )
    yield name
    async with store.engine.begin() as conn:
        await conn.execute(sa.text(f'DROP OWNED BY "{name}"'))
        await conn.execute(sa.text(f'DROP ROLE "{name}"'))


TABLE_TENANT = {
    "traces": "org_id, workspace_id",
    "gateway_keys": "org_id, workspace_id",
    "audit_events": "org_id, workspace_id",
    "workspaces": "org_id, id",
    "organizations": "id, id",
}


async def unfiltered(
    store: SqlTraceStore, role: str, table: str, org: str = "", ws: str = ""
) -> set[tuple[str, str]]:
    async with scoped_begin(store.engine, org, ws) as conn:
        await conn.execute(sa.text(f'SET LOCAL ROLE "{role}"'))
        rows = await conn.execute(
            sa.text(f"SELECT {TABLE_TENANT[table]} FROM {table}")
        )  # no WHERE on purpose
        return {tuple(r) for r in rows}  # type: ignore[misc]


@pytest.mark.parametrize("table", ["traces", "gateway_keys", "audit_events", "workspaces"])
@pytest.mark.parametrize(("org", "ws"), TENANTS)
async def test_an_unfiltered_query_in_a_scoped_transaction_sees_only_the_tenant(
    store: SqlTraceStore, role: str, table: str, org: str, ws: str
) -> None:
    assert await unfiltered(store, role, table, org, ws) == {(org, ws)}


async def test_organizations_are_confined_by_org(store: SqlTraceStore, role: str) -> None:
    assert await unfiltered(store, role, "organizations", "globex", "ws-a") == {("globex", "globex")}


async def test_without_tenant_settings_the_policies_are_permissive(store: SqlTraceStore, role: str) -> None:
    assert await unfiltered(store, role, "traces") == set(TENANTS)


async def test_the_settings_last_only_for_their_transaction(store: SqlTraceStore, role: str) -> None:
    async with store.engine.connect() as conn:
        async with conn.begin():
            await conn.execute(sa.text(f'SET LOCAL ROLE "{role}"'))
            await conn.execute(sa.text("SELECT set_config('ongoingai.org_id', 'acme', true)"))
            await conn.execute(sa.text("SELECT set_config('ongoingai.workspace_id', 'ws-a', true)"))
            assert (await conn.scalar(sa.text("SELECT count(*) FROM traces"))) == 1
        async with conn.begin():
            await conn.execute(sa.text(f'SET LOCAL ROLE "{role}"'))
            assert (await conn.scalar(sa.text("SELECT count(*) FROM traces"))) == len(TENANTS)


async def test_a_write_into_another_tenant_is_refused(store: SqlTraceStore, role: str) -> None:
    with pytest.raises(sa_exc.DBAPIError, match="row-level security"):
        async with scoped_begin(store.engine, "acme", "ws-a") as conn:
            await conn.execute(sa.text(f'SET LOCAL ROLE "{role}"'))
            await conn.execute(
                sa.text(
                    "INSERT INTO audit_events (id, created_at, action, outcome, org_id, workspace_id)"
                    " VALUES ('x', now(), 'auth.deny', 'denied', 'globex', 'ws-a')"
                )
            )


async def test_an_update_cannot_reach_another_tenants_row(store: SqlTraceStore, role: str) -> None:
    async with scoped_begin(store.engine, "acme", "ws-a") as conn:
        await conn.execute(sa.text(f'SET LOCAL ROLE "{role}"'))
        result = await conn.execute(sa.text("UPDATE gateway_keys SET name = 'pwned'"))  # no WHERE on purpose
    assert result.rowcount == 1
    async with store.connect() as conn:
        names = dict((await conn.execute(sa.text("SELECT id, name FROM gateway_keys"))).all())  # type: ignore[arg-type]
    assert names == {"k0": "pwned", "k1": "", "k2": ""}


async def test_row_level_security_is_forced_on_every_tenant_table(store: SqlTraceStore) -> None:
    async with store.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY(:t)"
            ),
            {"t": list(TABLE_TENANT)},
        )
        flags = {r[0]: (r[1], r[2]) for r in rows}
    assert flags == dict.fromkeys(TABLE_TENANT, (True, True))
