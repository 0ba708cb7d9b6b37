"""`GET /api/audit` on both backends: tenant scope, filters, newest first, cursor pages, 400s; diagnostics
count audit drops; key and audit responses match the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ongoingai.api import attach_store
from ongoingai.auth.audit import AuditEvent
from ongoingai.auth.stores import SqlAuditLog
from ongoingai.config import Settings
from ongoingai.store import SqlTraceStore
from ongoingai.store.engine import create_sqlite_engine, prepare_sqlite_file
from tests.api.test_api_service import conforms
from tests.auth.conftest import Stack, StackFactory, with_auth
from tests.fakes.clocks import T0

OWNER = "tok-owner-0123456789abcdef"
KEYS = [{"id": "owner", "token": OWNER, "role": "owner", "org_id": "acme", "workspace_id": "ws"}]


@pytest.fixture
async def stack(make_stack: StackFactory, store_settings: Settings) -> Stack:
    stack = await make_stack(with_auth(store_settings, key_store="database", keys=KEYS))
    assert stack.store is not None
    events = [
        AuditEvent(
            id=f"e{n:02d}",
            created_at=T0 + timedelta(hours=n),
            action=("key.create", "auth.deny", "key.revoke")[n % 3],
            outcome="allowed" if n % 3 != 1 else "denied",
            org_id="acme" if n < 9 else "globex",
            workspace_id="ws",
            actor_key_id=f"k{n % 2}",
            trace_id="t-7" if n == 7 else "",
            details={"n": n},
        )
        for n in range(12)
    ]
    await SqlAuditLog(stack.store.engine).write_audit_events(events)
    return stack


async def audit(stack: Stack, query: str = "") -> Any:
    return await stack.call("GET", "/api/audit" + query, OWNER)


async def test_records_come_newest_first_and_only_from_the_callers_tenant(stack: Stack) -> None:
    body = (await audit(stack)).json()

    assert [i["id"] for i in body["items"]] == [f"e{n:02d}" for n in range(8, -1, -1)]
    assert "next_cursor" not in body
    first = body["items"][0]
    assert first == {
        "id": "e08",
        "created_at": "2025-06-01T20:00:00Z",
        "org_id": "acme",
        "workspace_id": "ws",
        "actor_key_id": "k0",
        "action": "key.revoke",
        "outcome": "allowed",
        "reason": "",
        "trace_id": "",
        "correlation_id": "",
        "details": {"n": 8},
    }


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("?action=auth.deny", [7, 4, 1]),
        ("?outcome=denied", [7, 4, 1]),
        ("?key_id=k1", [7, 5, 3, 1]),
        ("?trace_id=t-7", [7]),
        ("?from=2025-06-01T15:00:00Z&to=2025-06-01T17:00:00Z", [5, 4, 3]),
        ("?from=2025-06-01&to=2025-06-01", list(range(8, -1, -1))),
        ("?action=key.create&key_id=k0", [6, 0]),
    ],
    ids=["action", "outcome", "key", "trace", "range", "days", "combined"],
)
async def test_filters(stack: Stack, query: str, ids: list[int]) -> None:
    items = (await audit(stack, query)).json()["items"]

    assert [i["id"] for i in items] == [f"e{n:02d}" for n in ids]


async def test_pages_follow_the_cursor_to_the_end(stack: Stack) -> None:
    seen: list[str] = []
    query = "?limit=4"
    while True:
        body = (await audit(stack, query)).json()
        seen += [i["id"] for i in body["items"]]
        if "next_cursor" not in body:
            break
        query = f"?limit=4&cursor={body['next_cursor']}"

    assert seen == [f"e{n:02d}" for n in range(8, -1, -1)]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?limit=201", "limit must be <= 200"),
        ("?limit=x", "limit must be an integer"),
        ("?action=key.delete", 'invalid action "key.delete"'),
        ("?outcome=maybe", 'invalid outcome "maybe"'),
        ("?from=yesterday", "invalid from: expected RFC3339 or YYYY-MM-DD"),
        ("?from=2025-06-02&to=2025-06-01", "to must be greater than or equal to from"),
        ("?cursor=!!", "audit cursor is invalid: decode base64 cursor"),
    ],
    ids=["limit-high", "limit-text", "action", "outcome", "from", "range", "cursor"],
)
async def test_bad_filters_are_400(stack: Stack, query: str, message: str) -> None:
    response = await audit(stack, query)

    assert (response.status_code, response.json()) == (400, {"error": message})


async def test_without_a_store_audit_is_503(make_stack: StackFactory, store_settings: Settings) -> None:
    stack = await make_stack(with_auth(store_settings, keys=KEYS), store=False)

    response = await audit(stack)

    assert (response.status_code, response.json()) == (503, {"error": "audit store is not configured"})


async def test_a_failing_store_is_500(stack: Stack, tmp_path: Path) -> None:
    # An unmigrated database: connections work, the audit query fails (no such table).
    prepare_sqlite_file(str(tmp_path / "empty.db"))
    broken = SqlTraceStore(create_sqlite_engine(str(tmp_path / "empty.db")), "sqlite")
    attach_store(stack.extra["api"], broken)

    response = await audit(stack)

    assert (response.status_code, response.json()) == (500, {"error": "failed to query audit events"})
    await broken.close()


async def test_diagnostics_report_audit_drops(stack: Stack) -> None:
    stack.runtime.audit.dropped_total = 3

    body = (await stack.call("GET", "/api/diagnostics/trace-pipeline", OWNER)).json()

    assert body["diagnostics"]["audit_dropped_total"] == 3


async def test_key_and_audit_responses_match_the_openapi_document(stack: Stack) -> None:
    doc = (await stack.client.get("/api/openapi.json")).json()
    created = await stack.call("POST", "/api/gateway-keys", OWNER, json={"id": "k1", "permissions": ["x:y"]})
    rotated = await stack.call("POST", "/api/gateway-keys/k1/rotate", OWNER, json={"grace_seconds": 5})
    revoked = await stack.call("DELETE", "/api/gateway-keys/k1", OWNER)
    for path, method, response in [
        ("/api/gateway-keys", "post", created),
        ("/api/gateway-keys", "get", await stack.call("GET", "/api/gateway-keys", OWNER)),
        ("/api/gateway-keys/{key_id}/rotate", "post", rotated),
        ("/api/gateway-keys/{key_id}", "delete", revoked),
        ("/api/gateway-keys/{key_id}", "delete", await stack.call("DELETE", "/api/gateway-keys/k1", OWNER)),
        ("/api/audit", "get", await audit(stack, "?limit=2")),
        ("/api/audit", "get", await audit(stack, "?limit=x")),
    ]:
        documented = doc["paths"][path][method]["responses"][str(response.status_code)]
        if response.status_code == 204:
            assert "content" not in documented and response.content == b""
            continue
        conforms(response.json(), documented["content"]["application/json"]["schema"])
    assert "requestBody" in doc["paths"]["/api/gateway-keys"]["post"]
    assert {p["name"] for p in doc["paths"]["/api/audit"]["get"]["parameters"]} == {
        "limit",
        "cursor",
        "from",
        "to",
        "action",
        "outcome",
        "key_id",
        "trace_id",
    }
