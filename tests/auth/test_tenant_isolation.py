"""Tenant isolation on both backends: two orgs × two workspaces, each with its own keys and traces.

Every read path with every tenant's key sees only that tenant's rows; another tenant's id is a 404 with
the same body as a missing one; key mutations cannot reach across; traces written through the proxy
carry the key's tenant (auth-and-tenancy.md §8, issue 4).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ongoingai.config import Settings
from tests.auth.conftest import Stack, StackFactory, with_auth
from tests.fakes.trace_records import make_record, trace_id
from tests.fakes.upstream import FakeUpstream

# Same workspace names in both orgs: a filter on the workspace alone would leak.
TENANTS = [("acme", "ws-a"), ("acme", "ws-b"), ("globex", "ws-a"), ("globex", "ws-b")]


def owner_token(t: int) -> str:
    return f"tok-owner-{t}-0123456789"


def dev_token(t: int) -> str:
    return f"tok-dev-{t}-0123456789"


def tenant_keys() -> list[dict[str, Any]]:
    keys = []
    for t, (org, ws) in enumerate(TENANTS):
        keys.append(
            {"id": f"owner-{t}", "token": owner_token(t), "role": "owner", "org_id": org, "workspace_id": ws}
        )
        keys.append({"id": f"dev-{t}", "token": dev_token(t), "org_id": org, "workspace_id": ws})
    return keys


def traces_of(t: int) -> list[str]:
    return [trace_id(10 * t + n) for n in (1, 2)]


@pytest.fixture
async def world(
    make_stack: StackFactory, store_settings: Settings, upstream_server: tuple[FakeUpstream, str]
) -> Stack:
    settings = with_auth(store_settings, upstream_server[1], key_store="database", keys=tenant_keys())
    stack = await make_stack(settings)
    assert stack.store is not None
    records = []
    for t, (org, ws) in enumerate(TENANTS):
        for n in (1, 2):
            records.append(make_record(10 * t + n, org_id=org, workspace_id=ws, trace_group_id=f"group-{t}"))
    result = await stack.store.write_batch(records)
    assert result.written == len(records)
    for t in range(len(TENANTS)):  # each tenant's owner creates one database key in its tenant
        created = await stack.call("POST", "/api/gateway-keys", owner_token(t), json={"id": f"db-key-{t}"})
        assert created.status_code == 201
    await stack.flush_audit()
    return stack


@pytest.mark.parametrize("t", range(len(TENANTS)))
async def test_the_trace_list_shows_only_the_callers_tenant(world: Stack, t: int) -> None:
    for token in (owner_token(t), dev_token(t)):
        items = (await world.call("GET", "/api/traces", token)).json()["items"]
        assert sorted(i["id"] for i in items) == sorted(traces_of(t))


@pytest.mark.parametrize("t", range(len(TENANTS)))
async def test_another_tenants_trace_reads_exactly_like_a_missing_one(world: Stack, t: int) -> None:
    missing = await world.call("GET", "/api/traces/does-not-exist", dev_token(t))
    for other in range(len(TENANTS)):
        for trace in traces_of(other):
            response = await world.call("GET", f"/api/traces/{trace}", dev_token(t))
            if other == t:
                assert response.status_code == 200
            else:
                assert (response.status_code, response.json()) == (missing.status_code, missing.json())
                assert response.json() == {"error": "trace not found"}


@pytest.mark.parametrize("t", range(len(TENANTS)))
async def test_replay_and_fork_of_another_tenants_trace_are_404(world: Stack, t: int) -> None:
    own, other = traces_of(t)[0], traces_of((t + 1) % len(TENANTS))[0]

    assert (await world.call("GET", f"/api/traces/{own}/replay", dev_token(t))).status_code == 200
    assert (await world.call("GET", f"/api/traces/{other}/replay", dev_token(t))).status_code == 404
    assert (await world.call("POST", f"/api/traces/{own}/fork", dev_token(t))).status_code == 200
    assert (await world.call("POST", f"/api/traces/{other}/fork", dev_token(t))).status_code == 404


@pytest.mark.parametrize("t", range(len(TENANTS)))
async def test_analytics_count_only_the_callers_tenant(world: Stack, t: int) -> None:
    summary = (await world.call("GET", "/api/analytics/summary", dev_token(t))).json()
    models = (await world.call("GET", "/api/analytics/models", dev_token(t))).json()["items"]

    assert summary["total_requests"] == 2
    assert sum(m["request_count"] for m in models) == 2


@pytest.mark.parametrize("t", range(len(TENANTS)))
async def test_key_list_shows_only_the_callers_tenant(world: Stack, t: int) -> None:
    items = (await world.call("GET", "/api/gateway-keys", owner_token(t))).json()["items"]

    assert [(k["id"], k["org_id"], k["workspace_id"]) for k in items] == [(f"db-key-{t}", *TENANTS[t])]


@pytest.mark.parametrize("t", range(len(TENANTS)))
async def test_keys_of_another_tenant_cannot_be_revoked_or_rotated(world: Stack, t: int) -> None:
    for other in range(len(TENANTS)):
        if other == t:
            continue
        for method, path in [
            ("DELETE", f"/api/gateway-keys/db-key-{other}"),
            ("POST", f"/api/gateway-keys/db-key-{other}/rotate"),
        ]:
            response = await world.call(method, path, owner_token(t))
            assert (response.status_code, response.json()) == (404, {"error": "gateway key not found"})
    for other in range(len(TENANTS)):  # every key is still there and unchanged
        items = (await world.call("GET", "/api/gateway-keys", owner_token(other))).json()["items"]
        assert [k["id"] for k in items] == [f"db-key-{other}"]


@pytest.mark.parametrize("t", range(len(TENANTS)))
async def test_audit_records_show_only_the_callers_tenant(world: Stack, t: int) -> None:
    await world.call("GET", "/api/internal", owner_token(t))  # unmapped: denied before any identity
    await world.call("POST", "/openai/v1/chat/completions", dev_token(t), provider_key=False, json={})
    await world.flush_audit()

    items = (await world.call("GET", "/api/audit", owner_token(t))).json()["items"]

    assert {(i["org_id"], i["workspace_id"]) for i in items} == {TENANTS[t]}
    assert sorted((i["action"], i["actor_key_id"]) for i in items) == [
        ("auth.deny", f"dev-{t}"),
        ("key.create", f"owner-{t}"),
    ]


async def test_a_developer_cannot_read_audit_records(world: Stack) -> None:
    assert (await world.call("GET", "/api/audit", dev_token(0))).status_code == 403


@pytest.mark.parametrize("t", range(len(TENANTS)))
async def test_proxied_traces_carry_the_keys_tenant(world: Stack, upstream: FakeUpstream, t: int) -> None:
    world.script_chat(upstream)

    response = await world.call("POST", "/openai/v1/chat/completions", dev_token(t), json={"model": "gpt-4o"})

    assert response.status_code == 200
    (record,) = world.sink.records
    assert (record.org_id, record.workspace_id, record.gateway_key_id) == (*TENANTS[t], f"dev-{t}")
    assert world.store is not None
    await world.store.write_batch([replace(record, id="proxied")])
    own = (await world.call("GET", "/api/traces/proxied", owner_token(t))).status_code
    others = {
        (await world.call("GET", "/api/traces/proxied", owner_token(o))).status_code
        for o in range(4)
        if o != t
    }
    assert (own, others) == (200, {404})
