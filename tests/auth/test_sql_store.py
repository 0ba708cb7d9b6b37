"""`SqlKeyStore` details on both backends: the database clock, unscoped reads, batched last-used."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ongoingai.auth.keys import GatewayKey
from ongoingai.auth.stores import SqlKeyStore
from ongoingai.auth.stores.sql import key_from_row
from ongoingai.query import TenantScope
from ongoingai.store import SqlTraceStore
from ongoingai.store.auth_tables import gateway_keys
from tests.fakes.clocks import T0


@pytest.fixture
async def keys(trace_store: SqlTraceStore) -> AsyncIterator[SqlKeyStore]:
    store = SqlKeyStore(trace_store.engine)
    await store.create(GatewayKey(id="a", token_hash="ha", org_id="acme", workspace_id="w1", created_at=T0))
    await store.create(GatewayKey(id="b", token_hash="hb", org_id="globex", workspace_id="w1", created_at=T0))
    yield store


async def test_a_key_without_a_creation_time_gets_the_databases(keys: SqlKeyStore) -> None:
    await keys.create(GatewayKey(id="c", token_hash="hc", org_id="acme", workspace_id="w1"))

    (c,) = [k for k in await keys.active_keys() if k.id == "c"]

    assert c.created_at is not None and c.created_at > T0


async def test_listing_unscoped_shows_every_tenant_and_scoped_only_one(keys: SqlKeyStore) -> None:
    assert [k.id for k in await keys.list_keys(None)] == ["a", "b"]
    assert [k.id for k in await keys.list_keys(TenantScope("globex", "w1"))] == ["b"]


async def test_last_used_never_moves_backwards(keys: SqlKeyStore) -> None:
    await keys.touch_last_used({})  # nothing to do
    await keys.touch_last_used({"a": T0 + timedelta(hours=2), "b": T0})
    await keys.touch_last_used({"a": T0 + timedelta(hours=1), "b": T0 + timedelta(hours=3)})

    used = {k.id: k.last_used_at for k in await keys.active_keys()}

    assert used == {"a": T0 + timedelta(hours=2), "b": T0 + timedelta(hours=3)}


async def test_a_row_with_odd_permissions_reads_as_none(keys: SqlKeyStore) -> None:
    async with keys.engine.connect() as conn:
        row = (await conn.execute(sa.select(gateway_keys).where(gateway_keys.c.id == "a"))).mappings().one()

    assert key_from_row({**row, "permissions": None}).permissions == ()
    assert key_from_row({**row, "permissions": ["x", 1]}).permissions == ("x",)
