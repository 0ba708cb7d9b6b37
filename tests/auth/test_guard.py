"""The auth layer in the pipeline (auth-and-tenancy.md §7): every refusal's status, body, audit reason
and headers; what an admitted request carries inward; no trace for a denial."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from ongoingai.auth.guard import FORBIDDEN, NO_PROVIDER_KEY, UNAUTHENTICATED, UNAVAILABLE, UNMAPPED
from ongoingai.config import Settings
from ongoingai.store.auth_tables import audit_events
from tests.auth.conftest import PROVIDER_KEY, Stack, StackFactory, with_auth
from tests.fakes.clocks import T0
from tests.fakes.upstream import FakeUpstream

DEV = "tok-developer-0123456789"
VIEWER = "tok-viewer-0123456789"
EXPIRED = "tok-expired-0123456789"
KEYS = [
    {"id": "dev", "token": DEV, "org_id": "acme", "workspace_id": "ws1", "team": "blue"},
    {"id": "viewer", "token": VIEWER, "role": "viewer", "org_id": "acme", "workspace_id": "ws1"},
    {"id": "old", "token": EXPIRED, "expires_at": (T0 + timedelta(seconds=60)).isoformat()},
]


@pytest.fixture
async def stack(
    make_stack: StackFactory, sqlite_settings: Settings, upstream_server: tuple[FakeUpstream, str]
) -> Stack:
    return await make_stack(with_auth(sqlite_settings, upstream_server[1], keys=KEYS))


async def audit_reasons(stack: Stack) -> list[tuple[str, str, str]]:
    await stack.flush_audit()
    assert stack.store is not None
    query = sa.select(audit_events.c.action, audit_events.c.reason, audit_events.c.actor_key_id)
    async with stack.store.connect() as conn:
        rows = (await conn.execute(query.order_by(audit_events.c.created_at))).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def error(response: Any) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()["error"]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_gateway_key"),
        ({"X-OngoingAI-Gateway-Key": "   "}, "missing_gateway_key"),
        ({"Authorization": f"Bearer {DEV}"}, "missing_gateway_key"),
        ({"X-OngoingAI-Gateway-Key": "nope"}, "invalid_gateway_key"),
        ({"X-OngoingAI-Gateway-Key": DEV + "x"}, "invalid_gateway_key"),
        ({"X-OngoingAI-Gateway-Key": DEV.upper()}, "invalid_gateway_key"),
    ],
    ids=["absent", "blank", "in-authorization", "unknown", "malformed", "wrong-case"],
)
async def test_a_missing_or_unknown_key_is_401(stack: Stack, headers: dict[str, str], reason: str) -> None:
    response = await stack.client.get("/api/traces", headers=headers)

    assert error(response) == (401, UNAUTHENTICATED)
    assert await audit_reasons(stack) == [("auth.deny", reason, "")]


async def test_a_token_with_surrounding_spaces_is_accepted(stack: Stack) -> None:
    assert (await stack.call("GET", "/api/traces", f"  {DEV} ")).status_code == 200


async def test_an_expired_key_is_401_with_its_own_audit_reason(stack: Stack) -> None:
    assert (await stack.call("GET", "/api/traces", EXPIRED)).status_code == 200
    stack.clock.advance(60)

    assert error(await stack.call("GET", "/api/traces", EXPIRED)) == (401, UNAUTHENTICATED)
    assert await audit_reasons(stack) == [("auth.deny", "expired_gateway_key", "")]


async def test_a_key_without_the_permission_is_403(stack: Stack) -> None:
    response = await stack.call("POST", "/openai/v1/chat/completions", VIEWER, json={})

    assert error(response) == (403, FORBIDDEN)
    assert await audit_reasons(stack) == [("auth.deny", "permission_denied", "viewer")]


async def test_an_unmapped_api_route_is_403_even_without_a_key(stack: Stack) -> None:
    assert error(await stack.client.get("/api/internal/debug")) == (403, UNMAPPED)
    assert await audit_reasons(stack) == [("auth.deny", "action_unmapped", "")]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "  "}, {"X-API-Key": ""}],
    ids=["none", "blank-authorization", "blank-x-api-key"],
)
async def test_a_provider_route_needs_a_provider_credential(stack: Stack, headers: dict[str, str]) -> None:
    response = await stack.call(
        "POST", "/openai/v1/chat/completions", DEV, provider_key=False, headers=headers
    )

    assert error(response) == (403, NO_PROVIDER_KEY)
    assert "—" in NO_PROVIDER_KEY
    assert await audit_reasons(stack) == [("auth.deny", "missing_provider_credential", "dev")]


async def test_x_api_key_counts_as_a_provider_credential(stack: Stack, upstream: FakeUpstream) -> None:
    stack.script_chat(upstream)
    response = await stack.call(
        "POST", "/openai/v1/chat/completions", DEV, provider_key=False, headers={"X-API-Key": "k"}, json={}
    )

    assert response.status_code == 200


async def test_denials_produce_no_trace_and_carry_the_correlation_id(stack: Stack) -> None:
    response = await stack.call(
        "POST", "/openai/v1/chat/completions", "bad", headers={"X-Request-ID": "req-42"}, json={}
    )

    assert response.status_code == 401
    assert response.headers["x-ongoingai-correlation-id"] == "req-42"
    assert "access-control-allow-origin" not in response.headers  # CORS is not for provider routes
    assert stack.sink.records == []
    await stack.flush_audit()
    async with stack.store.connect() as conn:  # type: ignore[union-attr]
        assert await conn.scalar(sa.select(audit_events.c.correlation_id)) == "req-42"


async def test_api_denials_carry_cors_headers(stack: Stack) -> None:
    response = await stack.client.get("/api/traces")

    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == "*"
    assert "X-OngoingAI-Gateway-Key" in response.headers["access-control-allow-headers"]


@pytest.mark.parametrize("path", ["/api/traces", "/api/internal/debug", "/api/gateway-keys/k1"])
async def test_options_is_never_blocked_on_the_api(stack: Stack, path: str) -> None:
    response = await stack.client.options(path)

    assert (response.status_code, response.content) == (204, b"")


async def test_options_on_a_provider_route_is_forwarded_without_a_key(
    stack: Stack, upstream: FakeUpstream
) -> None:
    await stack.client.options("/openai/v1/chat/completions")

    assert [r.method for r in upstream.received] == ["OPTIONS"]


@pytest.mark.parametrize("path", ["/", "/api/health", "/api/ready", "/api/openapi.json"])
async def test_public_routes_need_no_key(stack: Stack, path: str) -> None:
    assert (await stack.client.get(path)).status_code == 200


async def test_an_admitted_proxy_request_carries_the_identity_and_not_the_gateway_key(
    stack: Stack, upstream: FakeUpstream
) -> None:
    stack.script_chat(upstream)

    response = await stack.call("POST", "/openai/v1/chat/completions", DEV, json={"model": "gpt-4o"})

    assert response.status_code == 200
    received = upstream.received[0]
    assert received.header("x-ongoingai-gateway-key") is None
    assert received.header("authorization") == f"Bearer {PROVIDER_KEY}"
    (trace,) = stack.sink.records
    assert (trace.org_id, trace.workspace_id, trace.gateway_key_id) == ("acme", "ws1", "dev")
    assert (trace.metadata["team"], trace.metadata["role"]) == ("blue", "developer")
    assert "X-Ongoingai-Gateway-Key" not in trace.request_headers
    assert DEV not in repr(trace)


async def test_a_configured_header_is_matched_case_insensitively_and_replaces_the_default(
    make_stack: StackFactory, sqlite_settings: Settings, upstream: FakeUpstream, upstream_server: Any
) -> None:
    stack = await make_stack(with_auth(sqlite_settings, upstream_server[1], header="X-Team-KEY", keys=KEYS))
    stack.script_chat(upstream)

    assert (await stack.client.get("/api/traces", headers={"x-team-key": DEV})).status_code == 200
    default = {"X-OngoingAI-Gateway-Key": DEV}
    assert (await stack.client.get("/api/traces", headers=default)).status_code == 401
    response = await stack.client.post(
        "/openai/v1/chat/completions", headers={"X-TEAM-KEY": DEV, "Authorization": "Bearer p"}, json={}
    )
    assert response.status_code == 200
    assert upstream.received[0].header("x-team-key") is None


async def test_only_the_first_gateway_key_header_counts_and_every_copy_is_stripped(
    stack: Stack, upstream: FakeUpstream
) -> None:
    stack.script_chat(upstream)
    headers = [
        ("X-OngoingAI-Gateway-Key", DEV),
        ("X-OngoingAI-Gateway-Key", "other"),
        ("Authorization", "Bearer p"),
    ]

    response = await stack.client.post("/openai/v1/chat/completions", headers=headers, json={})

    assert response.status_code == 200
    assert upstream.received[0].header_values("x-ongoingai-gateway-key") == []


async def test_a_proxy_use_is_noted_and_an_api_read_is_not(stack: Stack, upstream: FakeUpstream) -> None:
    stack.script_chat(upstream)
    await stack.call("GET", "/api/traces", VIEWER)
    await stack.call("POST", "/openai/v1/chat/completions", DEV, json={})

    assert stack.runtime.last_used.seen("dev") == stack.clock.now
    assert stack.runtime.last_used.seen("viewer") is None


async def test_a_denial_is_logged_as_an_audit_line_without_the_token(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await stack.call("POST", "/openai/v1/chat/completions", VIEWER, json={})

    (record,) = [r for r in caplog.records if r.getMessage() == "audit gateway auth deny"]
    fields = {k: getattr(record, k) for k in ("audit_reason", "status_code", "provider", "key_id", "org_id")}
    assert fields == {
        "audit_reason": "permission_denied",
        "status_code": 403,
        "provider": "openai",
        "key_id": "viewer",
        "org_id": "acme",
    }
    assert (record.audit_resource, record.required_permission, record.limit_code) == (
        "proxy",
        "proxy:write",
        "",
    )
    assert VIEWER not in caplog.text


async def test_a_stale_database_key_cache_fails_closed_with_503(
    make_stack: StackFactory, sqlite_settings: Settings, upstream_server: Any
) -> None:
    settings = with_auth(sqlite_settings, upstream_server[1], key_store="database", keys=KEYS)
    stack = await make_stack(settings)
    assert (await stack.call("GET", "/api/traces", DEV)).status_code == 200

    stack.clock.advance(60.5)

    assert error(await stack.call("GET", "/api/traces", DEV)) == (503, UNAVAILABLE)
    assert (await stack.client.get("/api/health")).status_code == 200  # public routes stay up
    await stack.runtime.cache.refresh()
    assert (await stack.call("GET", "/api/traces", DEV)).status_code == 200
    assert ("auth.deny", "verification_unavailable", "") in await audit_reasons(stack)


async def test_config_keys_never_go_stale(stack: Stack) -> None:
    stack.clock.advance(10**6)

    assert (await stack.call("GET", "/api/traces", DEV)).status_code == 200
