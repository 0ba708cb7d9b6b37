"""The key lifecycle API on both backends (http-api.md §9, DEVIATIONS.md "Gateway keys", "Key mutations
with auth disabled", "Empty role")."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from ongoingai.auth.keys import hash_token
from ongoingai.config import Settings
from ongoingai.store.auth_tables import audit_events, gateway_keys, organizations, workspaces
from tests.auth.conftest import Stack, StackFactory, with_auth
from tests.fakes.upstream import FakeUpstream

ADMIN = "tok-admin-0123456789abcdef"
DEV = "tok-dev-0123456789abcdef"
KEYS = [
    {"id": "boot-admin", "token": ADMIN, "role": "admin", "org_id": "acme", "workspace_id": "ws1"},
    {"id": "boot-dev", "token": DEV, "org_id": "acme", "workspace_id": "ws1"},
]


@pytest.fixture
async def stack(
    make_stack: StackFactory, store_settings: Settings, upstream_server: tuple[FakeUpstream, str]
) -> Stack:
    return await make_stack(with_auth(store_settings, upstream_server[1], key_store="database", keys=KEYS))


async def create(stack: Stack, body: Any = None, token: str = ADMIN, **kw: Any) -> Any:
    return await stack.call("POST", "/api/gateway-keys", token, json=body if body is not None else {}, **kw)


async def key_rows(stack: Stack) -> list[dict[str, Any]]:
    assert stack.store is not None
    async with stack.store.connect() as conn:
        return [dict(r) for r in (await conn.execute(sa.select(gateway_keys))).mappings()]


async def test_create_generates_id_and_token_shows_the_token_once_and_stores_only_its_hash(
    stack: Stack,
) -> None:
    response = await create(stack, {"name": "ci", "description": "pipeline"})

    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"gk_[0-9a-f]{16}", body["id"])
    assert re.fullmatch(r"ogk_[A-Za-z0-9_-]{32}", body["token"])
    assert {k: body[k] for k in ("org_id", "workspace_id", "created_by", "role", "name", "description")} == {
        "org_id": "acme",
        "workspace_id": "ws1",
        "created_by": "boot-admin",
        "role": "developer",
        "name": "ci",
        "description": "pipeline",
    }
    assert body["created_at"] == "2025-06-01T12:00:00Z"
    assert (body["last_used_at"], body["expires_at"], body["previous_token_expires_at"]) == (None, None, None)
    assert "permissions" not in body
    listed = (await stack.call("GET", "/api/gateway-keys", ADMIN)).json()["items"]
    assert [k["id"] for k in listed] == [body["id"]]
    assert "token" not in listed[0]
    (row,) = await key_rows(stack)
    assert row["token_hash"] == hash_token(body["token"])
    assert body["token"] not in repr(row)


async def test_a_new_key_works_at_once_on_this_instance(stack: Stack) -> None:
    token = (await create(stack, {"role": "viewer"})).json()["token"]

    assert (await stack.call("GET", "/api/traces", token)).status_code == 200
    assert (await stack.call("POST", "/openai/v1/chat/completions", token, json={})).status_code == 403


async def test_create_honours_id_token_role_permissions_and_expiry_but_not_the_tenant(stack: Stack) -> None:
    body = {
        "id": "ci-key",
        "token": "  my-own-token-0123456789  ",
        "org_id": "globex",
        "workspace_id": "other",
        "role": " Viewer ",
        "permissions": ["Custom:Read", "custom:read", " "],
        "expires_at": "2025-06-02T00:00:00+02:00",
    }

    created = (await create(stack, body)).json()

    assert (created["id"], created["token"], created["role"]) == (
        "ci-key",
        "my-own-token-0123456789",
        "viewer",
    )
    assert (created["org_id"], created["workspace_id"]) == ("acme", "ws1")
    assert created["permissions"] == ["custom:read"]
    assert created["expires_at"] == "2025-06-01T22:00:00Z"
    stack.clock.advance(10 * 3600)
    await stack.runtime.cache.refresh()
    assert (await stack.call("GET", "/api/traces", "my-own-token-0123456789")).status_code == 401


async def test_a_new_tenant_gets_its_organization_and_workspace_rows(
    make_stack: StackFactory, store_settings: Settings
) -> None:
    keys = [{"id": "root", "token": ADMIN, "role": "owner", "org_id": "newco", "workspace_id": "lab"}]
    stack = await make_stack(with_auth(store_settings, key_store="database", keys=keys))

    assert (await create(stack)).status_code == 201

    assert stack.store is not None
    async with stack.store.connect() as conn:
        orgs = {tuple(r) for r in await conn.execute(sa.select(organizations.c.id, organizations.c.name))}
        spaces = {tuple(r) for r in await conn.execute(sa.select(workspaces.c.org_id, workspaces.c.id))}
    assert ("newco", "newco") in orgs
    assert ("newco", "lab") in spaces


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"role": ""}, 400, 'invalid role ""'),
        ({"role": "root"}, 400, 'invalid role "root"'),
        ({"id": "has/slash"}, 400, "invalid gateway key id"),
        ({"expires_at": "tomorrow"}, 400, "invalid expires_at: expected RFC3339"),
        ({"expires_at": "2025-13-40T00:00:00Z"}, 400, "invalid expires_at: expected RFC3339"),
        ({"expires_at": "2025-06-01T11:59:59Z"}, 400, "expires_at must be in the future"),
        ({"unknown": 1}, 400, "invalid json body"),
        ({"name": 5}, 400, "invalid json body"),
        ({"permissions": "proxy:write"}, 400, "invalid json body"),
        ({"id": "boot-dev"}, 409, "gateway key already exists"),
        ({"token": DEV}, 409, "gateway key already exists"),
    ],
    ids=[
        "empty-role",
        "unknown-role",
        "bad-id",
        "bad-expiry",
        "impossible-expiry",
        "past-expiry",
        "unknown-field",
        "wrong-type",
        "permissions-not-list",
        "config-id",
        "config-token",
    ],
)
async def test_invalid_creates_are_refused(
    stack: Stack, body: dict[str, Any], status: int, message: str
) -> None:
    response = await create(stack, body)

    assert (response.status_code, response.json()) == (status, {"error": message})
    assert await key_rows(stack) == []


@pytest.mark.parametrize(
    "content",
    [b"{", b"[]", b'{"name":"a"} {"name":"b"}', b'"text"', b"\xff"],
    ids=["truncated", "array", "trailing-value", "string", "not-utf8"],
)
async def test_a_body_that_is_not_one_json_object_is_400(stack: Stack, content: bytes) -> None:
    response = await stack.call("POST", "/api/gateway-keys", ADMIN, content=content)

    assert (response.status_code, response.json()) == (400, {"error": "invalid json body"})


async def test_an_empty_body_creates_a_key_and_a_huge_one_is_413(stack: Stack) -> None:
    assert (await stack.call("POST", "/api/gateway-keys", ADMIN, content=b"  ")).status_code == 201

    response = await stack.call("POST", "/api/gateway-keys", ADMIN, content=b" " * (64 * 1024 + 1))

    assert (response.status_code, response.json()) == (413, {"error": "request body too large"})


async def test_duplicate_ids_and_tokens_conflict(stack: Stack) -> None:
    assert (await create(stack, {"id": "k1", "token": "token-one-0123456789"})).status_code == 201

    same_id = await create(stack, {"id": "k1"})
    same_token = await create(stack, {"id": "k2", "token": "token-one-0123456789"})

    assert (same_id.status_code, same_id.json()) == (409, {"error": "gateway key already exists"})
    assert (same_token.status_code, same_token.json()) == (409, {"error": "gateway key already exists"})


async def test_revoke_is_204_and_the_key_stops_working(stack: Stack) -> None:
    created = (await create(stack, {"id": "k1"})).json()

    response = await stack.call("DELETE", "/api/gateway-keys/k1", ADMIN)

    assert (response.status_code, response.content) == (204, b"")
    assert (await stack.call("GET", "/api/traces", created["token"])).status_code == 401
    assert (await stack.call("GET", "/api/gateway-keys", ADMIN)).json() == {"items": []}
    again = await stack.call("DELETE", "/api/gateway-keys/k1", ADMIN)
    assert (again.status_code, again.json()) == (404, {"error": "gateway key not found"})
    assert (await stack.call("DELETE", "/api/gateway-keys/nope", ADMIN)).status_code == 404


async def test_rotate_replaces_the_token_at_once_without_grace(stack: Stack) -> None:
    old = (await create(stack, {"id": "k1"})).json()["token"]

    response = await stack.call("POST", "/api/gateway-keys/k1/rotate", ADMIN)

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "k1" and body["token"] != old and body["previous_token_expires_at"] is None
    assert (await stack.call("GET", "/api/traces", old)).status_code == 401
    assert (await stack.call("GET", "/api/traces", body["token"])).status_code == 200


async def test_rotate_with_grace_keeps_the_old_token_until_it_ends(stack: Stack) -> None:
    old = (await create(stack, {"id": "k1"})).json()["token"]

    response = await stack.call(
        "POST",
        "/api/gateway-keys/k1/rotate",
        ADMIN,
        json={"token": "fresh-token-0123456789", "grace_seconds": 60},
    )

    assert response.json()["token"] == "fresh-token-0123456789"
    assert response.json()["previous_token_expires_at"] == "2025-06-01T12:01:00Z"
    assert (await stack.call("GET", "/api/traces", old)).status_code == 200
    listed = (await stack.call("GET", "/api/gateway-keys", ADMIN)).json()["items"][0]
    assert listed["previous_token_expires_at"] == "2025-06-01T12:01:00Z"
    stack.clock.advance(60)
    assert (await stack.call("GET", "/api/traces", old)).status_code == 401
    assert (await stack.call("GET", "/api/traces", "fresh-token-0123456789")).status_code == 200


async def test_revoking_a_rotated_key_ends_both_tokens(stack: Stack) -> None:
    old = (await create(stack, {"id": "k1"})).json()["token"]
    new = (
        await stack.call("POST", "/api/gateway-keys/k1/rotate", ADMIN, json={"grace_seconds": 3600})
    ).json()
    assert (await stack.call("GET", "/api/traces", old)).status_code == 200

    await stack.call("DELETE", "/api/gateway-keys/k1", ADMIN)

    assert (await stack.call("GET", "/api/traces", old)).status_code == 401
    assert (await stack.call("GET", "/api/traces", new["token"])).status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"grace_seconds": -1}, 400, "grace_seconds must be between 0 and 86400"),
        ({"grace_seconds": 86401}, 400, "grace_seconds must be between 0 and 86400"),
        ({"grace_seconds": "60"}, 400, "invalid json body"),
        ({"grace_seconds": True}, 400, "invalid json body"),
        ({"token": DEV}, 409, "gateway key token already exists"),
        ({"token": "first-token-0123456789"}, 409, "gateway key token already exists"),
        ({"token": "second-token-0123456789"}, 409, "gateway key token already exists"),
    ],
    ids=["negative", "too-long", "string", "bool", "config-token", "own-token", "other-key-token"],
)
async def test_invalid_rotations_are_refused(
    stack: Stack, body: dict[str, Any], status: int, message: str
) -> None:
    await create(stack, {"id": "k1", "token": "first-token-0123456789"})
    await create(stack, {"id": "k2", "token": "second-token-0123456789"})

    response = await stack.call("POST", "/api/gateway-keys/k1/rotate", ADMIN, json=body)

    assert (response.status_code, response.json()) == (status, {"error": message})


async def test_a_token_still_in_another_keys_grace_cannot_be_rotated_to(stack: Stack) -> None:
    await create(stack, {"id": "k1", "token": "first-token-0123456789"})
    await create(stack, {"id": "k2"})
    await stack.call("POST", "/api/gateway-keys/k1/rotate", ADMIN, json={"grace_seconds": 60})

    response = await stack.call(
        "POST", "/api/gateway-keys/k2/rotate", ADMIN, json={"token": "first-token-0123456789"}
    )

    assert response.status_code == 409


async def test_rotating_an_unknown_or_revoked_key_is_404(stack: Stack) -> None:
    await create(stack, {"id": "k1"})
    await stack.call("DELETE", "/api/gateway-keys/k1", ADMIN)

    for key_id in ("k1", "nope", "boot-dev"):
        response = await stack.call("POST", f"/api/gateway-keys/{key_id}/rotate", ADMIN)
        assert (response.status_code, response.json()) == (404, {"error": "gateway key not found"})


async def test_last_used_at_is_batched_shown_at_once_and_flushed_later(
    stack: Stack, upstream: FakeUpstream
) -> None:
    token = (await create(stack, {"id": "k1"})).json()["token"]
    stack.script_chat(upstream, 3)
    for _ in range(3):
        assert (await stack.call("POST", "/openai/v1/chat/completions", token, json={})).status_code == 200

    listed = (await stack.call("GET", "/api/gateway-keys", ADMIN)).json()["items"][0]
    assert listed["last_used_at"] == "2025-06-01T12:00:00Z"
    assert [r["last_used_at"] for r in await key_rows(stack)] == [None]  # no write per request

    await stack.runtime.last_used.flush(stack.runtime.sql)
    (row,) = await key_rows(stack)
    assert row["last_used_at"] is not None and row["last_used_at"].isoformat().startswith(
        "2025-06-01T12:00:00"
    )


async def test_lifecycle_actions_are_audited_without_tokens(stack: Stack) -> None:
    created = (await create(stack, {"id": "k1", "token": "audited-token-0123456789"})).json()
    stack.clock.advance(1)
    await create(stack, {"id": "k1"})
    stack.clock.advance(1)
    rotated = (await stack.call("POST", "/api/gateway-keys/k1/rotate", ADMIN)).json()
    stack.clock.advance(1)
    await stack.call("DELETE", "/api/gateway-keys/k1", ADMIN)
    stack.clock.advance(1)
    await stack.call("DELETE", "/api/gateway-keys/k1", ADMIN)
    await stack.call("GET", "/api/gateway-keys", ADMIN)  # listing is not audited

    await stack.flush_audit()
    assert stack.store is not None
    async with stack.store.connect() as conn:
        rows = (
            (await conn.execute(sa.select(audit_events).order_by(audit_events.c.created_at))).mappings().all()
        )
    summary = [
        (r["action"], r["outcome"], r["reason"], r["actor_key_id"], r["details"]["target_key_id"])
        for r in rows
    ]
    assert summary == [
        ("key.create", "allowed", "", "boot-admin", "k1"),
        ("key.create", "denied", "conflict", "boot-admin", ""),
        ("key.rotate", "allowed", "", "boot-admin", "k1"),
        ("key.revoke", "allowed", "", "boot-admin", "k1"),
        ("key.revoke", "denied", "not_found", "boot-admin", "k1"),
    ]
    assert {(r["org_id"], r["workspace_id"]) for r in rows} == {("acme", "ws1")}
    dumped = repr([dict(r) for r in rows])
    for secret in (
        created["token"],
        rotated["token"],
        hash_token(created["token"]),
        hash_token(rotated["token"]),
    ):
        assert secret not in dumped


async def test_a_developer_cannot_manage_keys(stack: Stack) -> None:
    response = await create(stack, token=DEV)

    assert response.status_code == 403


async def test_list_is_ordered_by_creation_then_id(stack: Stack) -> None:
    await create(stack, {"id": "b"})
    await create(stack, {"id": "a"})
    stack.clock.advance(1)
    await create(stack, {"id": "0"})

    items = (await stack.call("GET", "/api/gateway-keys", ADMIN)).json()["items"]

    assert [k["id"] for k in items] == ["a", "b", "0"]


@pytest.mark.parametrize("key_store", ["config", "database"])
async def test_with_auth_disabled_mutations_are_403_and_listing_is_unscoped(
    make_stack: StackFactory, store_settings: Settings, key_store: str
) -> None:
    settings = with_auth(store_settings, key_store=key_store, keys=KEYS).model_copy()
    settings = settings.model_copy(update={"auth": settings.auth.model_copy(update={"enabled": False})})
    stack = await make_stack(settings)

    for method, path in [
        ("POST", "/api/gateway-keys"),
        ("DELETE", "/api/gateway-keys/boot-dev"),
        ("POST", "/api/gateway-keys/boot-dev/rotate"),
    ]:
        response = await stack.client.request(method, path)
        assert (response.status_code, response.json()) == (
            403,
            {"error": "enable auth to manage gateway keys"},
        )
    listed = await stack.client.get("/api/gateway-keys")
    expected = ["boot-admin", "boot-dev"] if key_store == "config" else []
    assert [k["id"] for k in listed.json()["items"]] == expected
    await stack.flush_audit()
    async with stack.store.connect() as conn:  # type: ignore[union-attr]
        rows = (await conn.execute(sa.select(audit_events.c.reason, audit_events.c.org_id))).all()
    assert [tuple(r) for r in rows] == [("auth_disabled", "default")] * 3


async def test_the_config_store_lists_its_keys_in_scope_and_refuses_mutations(
    make_stack: StackFactory, store_settings: Settings
) -> None:
    keys = [*KEYS, {"id": "elsewhere", "token": "t-elsewhere-0123456789", "org_id": "globex"}]
    stack = await make_stack(with_auth(store_settings, keys=keys))

    listed = (await stack.call("GET", "/api/gateway-keys", ADMIN)).json()["items"]
    response = await create(stack)

    assert [(k["id"], k["org_id"], k["workspace_id"], k["created_at"]) for k in listed] == [
        ("boot-admin", "acme", "ws1", None),
        ("boot-dev", "acme", "ws1", None),
    ]
    assert (response.status_code, response.json()) == (
        501,
        {"error": "gateway key mutations are not supported by this config store"},
    )


async def test_without_a_store_the_key_routes_are_503(
    make_stack: StackFactory, store_settings: Settings
) -> None:
    stack = await make_stack(with_auth(store_settings, key_store="database", keys=KEYS), store=False)

    for method in ("GET", "POST"):
        response = await stack.call(method, "/api/gateway-keys", ADMIN)
        assert (response.status_code, response.json()) == (
            503,
            {"error": "gateway key store is not configured"},
        )
