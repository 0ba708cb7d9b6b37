"""`GET /api/traces` and `GET /api/traces/{id}` over HTTP: validation, paging, detail, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from ongoingai.api import TENANT_SCOPE_KEY
from ongoingai.query import TenantScope
from ongoingai.store import open_trace_store
from tests.api.conftest import Api
from tests.fakes.storage import storage_settings
from tests.fakes.trace_records import T0, make_record, trace_id

BAD_CURSOR = "trace cursor is invalid: "


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=abc", "limit must be an integer"),
        ("limit=1.5", "limit must be an integer"),
        ("limit=-1", "limit must be >= 0"),
        ("limit=201", "limit must be <= 200"),
        ("status=abc", "status must be an integer"),
        ("status=99", "status must be >= 100"),
        ("status=600", "status must be <= 599"),
        ("min_tokens=x", "min_tokens must be an integer"),
        ("min_tokens=-1", "min_tokens must be >= 0"),
        ("min_tokens=10000001", "min_tokens must be <= 10000000"),
        ("max_tokens=-5", "max_tokens must be >= 0"),
        ("max_tokens=10000001", "max_tokens must be <= 10000000"),
        ("min_tokens=10&max_tokens=5", "max_tokens must be greater than or equal to min_tokens"),
        ("from=yesterday", "invalid from: expected RFC3339 or YYYY-MM-DD"),
        ("from=2025-01-02T03:04:05", "invalid from: expected RFC3339 or YYYY-MM-DD"),
        ("from=2025-02-30", "invalid from: expected RFC3339 or YYYY-MM-DD"),
        ("to=2025/01/02", "invalid to: expected RFC3339 or YYYY-MM-DD"),
        ("from=2025-01-03&to=2025-01-02", "to must be greater than or equal to from"),
        ("from=2025-01-02T10:00:00Z&to=2025-01-02T09:59:59Z", "to must be greater than or equal to from"),
        ("cursor=***", BAD_CURSOR + "decode base64 cursor"),
        ("cursor=MjAyNQ", BAD_CURSOR + "missing id"),
        ("cursor=bm90LWEtdGltZXxhYmM", BAD_CURSOR + "parse created_at"),
    ],
)
async def test_every_invalid_parameter_is_a_400_with_the_spec_message(
    api: Api, query: str, message: str
) -> None:
    response = await api.client.get(f"/api/traces?{query}")

    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert response.headers["content-type"] == "application/json"
    assert response.content.endswith(b"}\n")


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=200",
        "status=100",
        "status=599",
        "min_tokens=0&max_tokens=0",
        "min_tokens=5&max_tokens=5",
        "from=2025-01-02&to=2025-01-02",
        "from=2025-01-02T03:04:05.5%2B02:00",
        "limit=",
        "unknown=1",
    ],
)
async def test_valid_edge_values_are_accepted(api: Api, query: str) -> None:
    assert (await api.client.get(f"/api/traces?{query}")).status_code == 200


async def test_pages_round_trip_through_the_cursor(api: Api) -> None:
    assert api.store is not None
    await api.store.write_batch([make_record(n, created_at=T0) for n in range(1, 6)] + [make_record(9)])
    seen: list[str] = []
    url = "/api/traces?limit=2&provider=openai"
    while True:
        body = (await api.client.get(url)).json()
        seen.extend(item["id"] for item in body["items"])
        if "next_cursor" not in body:
            break
        url = f"/api/traces?limit=2&provider=openai&cursor={body['next_cursor']}"

    assert seen == [trace_id(n) for n in (9, 5, 4, 3, 2, 1)]


async def test_absent_limit_means_fifty(api: Api) -> None:
    assert api.store is not None
    await api.store.write_batch([make_record(n) for n in range(60)])

    body = (await api.client.get("/api/traces")).json()

    assert len(body["items"]) == 50 and "next_cursor" in body


async def test_a_list_item_has_the_documented_fields(api: Api) -> None:
    assert api.store is not None
    await api.store.write_batch([make_record(1, api_key_hash="", time_to_first_token_us=1500)])

    [item] = (await api.client.get("/api/traces")).json()["items"]

    assert item == {
        "id": trace_id(1),
        "timestamp": "2025-01-02T03:04:06.123456Z",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "request_method": "POST",
        "request_path": "/openai/v1/chat/completions",
        "response_status": 200,
        "input_tokens": 12,
        "output_tokens": 30,
        "total_tokens": 42,
        "latency_ms": 350,
        "time_to_first_token_ms": 2,
        "time_to_first_token_us": 1500,
        "estimated_cost_usd": 0.000123,
        "created_at": "2025-01-02T03:04:06.123456Z",
    }


async def test_date_only_to_includes_the_whole_day(api: Api) -> None:
    assert api.store is not None
    last_instant = T0.replace(hour=23, minute=59, second=59, microsecond=999_999)
    await api.store.write_batch(
        [make_record(1, timestamp=last_instant), make_record(2, timestamp=T0 + timedelta(1))]
    )

    body = (await api.client.get("/api/traces?from=2025-01-02&to=2025-01-02")).json()

    assert [item["id"] for item in body["items"]] == [trace_id(1)]


async def test_detail_has_lineage_headers_bodies_and_metadata(api: Api) -> None:
    assert api.store is not None
    meta = {"lineage_thread_id": "t1", "lineage_checkpoint_seq": "2", "gateway_key_id": "gk_1"}
    await api.store.write_batch([make_record(1, trace_group_id="g1", metadata=meta, gateway_key_id="gk_1")])

    body = (await api.client.get(f"/api/traces/{trace_id(1)}")).json()

    assert body["trace_group_id"] == "g1"
    assert body["lineage"] == {
        "group_id": "g1",
        "thread_id": "t1",
        "checkpoint_id": trace_id(1),
        "checkpoint_seq": 2,
        "immutable": True,
    }
    assert body["request_headers"]["Content-Type"] == ["application/json"]
    assert body["response_body"].startswith('{"choices"')
    assert body["metadata"] == meta
    assert "gateway_key_id" not in body


async def test_detail_omits_empty_parts(api: Api) -> None:
    assert api.store is not None
    record = make_record(
        1, request_headers={}, response_headers={}, request_body="", response_body="", metadata={}
    )
    await api.store.write_batch([record])

    body = (await api.client.get(f"/api/traces/{trace_id(1)}")).json()

    for absent in (
        "trace_group_id",
        "request_headers",
        "response_headers",
        "request_body",
        "response_body",
        "metadata",
    ):
        assert absent not in body
    assert body["lineage"] == {"checkpoint_id": trace_id(1), "immutable": True}


async def test_an_unknown_trace_is_404(api: Api) -> None:
    response = await api.client.get("/api/traces/does-not-exist")

    assert (response.status_code, response.json()) == (404, {"error": "trace not found"})


async def test_a_trace_of_another_tenant_is_404_like_a_missing_one(api: Api) -> None:
    assert api.store is not None
    await api.store.write_batch([make_record(1, org_id="acme")])
    transport = api.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app

    async def scoped(scope: Scope, receive: Receive, send: Send) -> None:
        scope[TENANT_SCOPE_KEY] = TenantScope("other", "default")
        await app(scope, receive, send)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=scoped), base_url="http://g") as client:
        detail = await client.get(f"/api/traces/{trace_id(1)}")
        listing = await client.get("/api/traces")

    assert (detail.status_code, detail.json()) == (404, {"error": "trace not found"})
    assert listing.json() == {"items": []}


async def test_store_failures_are_500s(tmp_path: Path, make_api: Callable[..., httpx.AsyncClient]) -> None:
    settings = storage_settings("sqlite", tmp_path)
    unmigrated = await open_trace_store(settings, migrate=False)
    client = make_api(settings, unmigrated, None)
    try:
        listing = await client.get("/api/traces")
        detail = await client.get("/api/traces/x")
    finally:
        await unmigrated.close()

    assert (listing.status_code, listing.json()) == (500, {"error": "failed to query traces"})
    assert (detail.status_code, detail.json()) == (500, {"error": "failed to read trace"})


async def test_without_a_store_traces_are_503(
    tmp_path: Path, make_api: Callable[..., httpx.AsyncClient]
) -> None:
    client = make_api(storage_settings("sqlite", tmp_path), None, None)

    response = await client.get("/api/traces")

    assert (response.status_code, response.json()) == (503, {"error": "trace store is not configured"})
