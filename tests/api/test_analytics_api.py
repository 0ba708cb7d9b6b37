"""`/api/analytics/*` over HTTP on both backends: every parameter rule and message, summary vs series,
snake_case keys, tenant scope, exact figures from the hand-computed set, errors and OpenAPI conformance.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from ongoingai.api import TENANT_SCOPE_KEY, create_api
from ongoingai.api.openapi import SCHEMAS
from ongoingai.config import Settings
from ongoingai.query import TenantScope
from ongoingai.store import SqlTraceStore, open_trace_store
from tests.api.conftest import STARTED, Api, fixed_now
from tests.api.test_api_service import conforms
from tests.fakes.analytics_traces import HAND, OPENAI_PATH
from tests.fakes.storage import storage_settings

ENDPOINTS = ("usage", "cost", "models", "keys", "latency", "errors", "summary")
BAD_TIME = "expected RFC3339 or YYYY-MM-DD"


@pytest.fixture
async def sqlite_api(tmp_path: Path, make_api: Callable[..., httpx.AsyncClient]) -> AsyncIterator[Api]:
    """Validation needs no rows and no second backend: one SQLite store."""
    settings = storage_settings("sqlite", tmp_path)
    store = await open_trace_store(settings)
    yield Api(make_api(settings, store, None), store, None)
    await store.close()


@pytest.fixture
async def seeded(api: Api) -> Api:
    assert api.store is not None
    await api.store.write_batch(HAND)
    return api


def scoped_client(settings: Settings, store: SqlTraceStore, scope: TenantScope) -> httpx.AsyncClient:
    """The API as the auth layer will present it: the caller's TenantScope put on the ASGI scope."""
    app = create_api(settings, store, None, STARTED, clock=fixed_now, version="9.9.9")

    async def with_tenant(asgi_scope: Scope, receive: Receive, send: Send) -> None:
        asgi_scope[TENANT_SCOPE_KEY] = scope
        await app(asgi_scope, receive, send)

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=with_tenant), base_url="http://gateway")


@pytest.fixture
async def default_tenant(seeded: Api, store_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    assert seeded.store is not None
    async with scoped_client(store_settings, seeded.store, TenantScope("default", "default")) as client:
        yield client


async def get_json(client: httpx.AsyncClient, url: str) -> Any:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=yesterday", f"invalid from: {BAD_TIME}"),
        ("from=2025-01-02T03:04:05", f"invalid from: {BAD_TIME}"),
        ("to=2025/01/02", f"invalid to: {BAD_TIME}"),
        ("to=2025-02-30", f"invalid to: {BAD_TIME}"),
        ("from=2025-01-03&to=2025-01-02", "to must be greater than or equal to from"),
    ],
)
async def test_time_rules_are_the_trace_list_rules(
    sqlite_api: Api, endpoint: str, query: str, message: str
) -> None:
    response = await sqlite_api.client.get(f"/api/analytics/{endpoint}?{query}")

    assert (response.status_code, response.json()) == (400, {"error": message})


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("usage?group_by=route", 'invalid group_by: "route"'),
        ("usage?group_by=key", 'invalid group_by: "key"'),
        ("cost?group_by=x", 'invalid group_by: "x"'),
        ("usage?bucket=month", 'invalid bucket: "month"'),
        ("cost?group_by=model&bucket=Minute", 'invalid bucket: "Minute"'),
        ("latency?group_by=tenant", 'invalid group_by: "tenant"'),
        ("errors?group_by=api_key_hash", 'invalid group_by: "api_key_hash"'),
    ],
)
async def test_bad_options_show_the_value_in_double_quotes(sqlite_api: Api, url: str, message: str) -> None:
    response = await sqlite_api.client.get(f"/api/analytics/{url}")

    assert (response.status_code, response.json()) == (400, {"error": message})


@pytest.mark.parametrize(
    "url",
    [
        "usage?group_by=PROVIDER&bucket=Day",
        "cost?bucket=WEEK",
        "latency?group_by=Route",
        "errors?group_by=KEY",
        "models?bucket=nonsense&group_by=ignored",  # options other endpoints do not take are ignored
        "summary?from=2025-01-06&to=2025-01-06",
        "usage?from=2025-01-06T00:00:00%2B02:00",
    ],
)
async def test_valid_options_are_accepted(seeded: Api, url: str) -> None:
    assert (await seeded.client.get(f"/api/analytics/{url}")).status_code == 200


async def test_summary_mode_keys_are_snake_case(default_tenant: httpx.AsyncClient) -> None:
    usage = await get_json(default_tenant, "/api/analytics/usage")
    cost = await get_json(default_tenant, "/api/analytics/cost")

    assert usage == {"total_input_tokens": 700, "total_output_tokens": 375, "total_tokens": 1075}
    assert cost == {"total_cost_usd": 3.875}


async def test_a_group_alone_makes_a_daily_series(default_tenant: httpx.AsyncClient) -> None:
    body = await get_json(default_tenant, "/api/analytics/cost?group_by=provider")

    assert body["group_by"] == "provider"
    assert body["bucket"] == "day"
    assert body["items"][:2] == [
        {
            "bucket_start": "2025-01-06T00:00:00Z",
            "group": "anthropic",
            "total_cost_usd": 0.0,
            "request_count": 1,
            "avg_cost_usd": 0.0,
        },
        {
            "bucket_start": "2025-01-06T00:00:00Z",
            "group": "openai",
            "total_cost_usd": 1.5,
            "request_count": 2,
            "avg_cost_usd": 0.75,
        },
    ]


async def test_a_bucket_alone_makes_an_ungrouped_series(default_tenant: httpx.AsyncClient) -> None:
    body = await get_json(default_tenant, "/api/analytics/usage?bucket=week")

    assert body == {
        "bucket": "week",
        "items": [
            {
                "bucket_start": "2025-01-06T00:00:00Z",
                "input_tokens": 650,
                "output_tokens": 350,
                "total_tokens": 1000,
            },
            {
                "bucket_start": "2025-01-13T00:00:00Z",
                "input_tokens": 50,
                "output_tokens": 25,
                "total_tokens": 75,
            },
        ],
    }


async def test_models_keys_and_summary(default_tenant: httpx.AsyncClient) -> None:
    models = await get_json(default_tenant, "/api/analytics/models")
    keys = await get_json(default_tenant, "/api/analytics/keys")
    overview = await get_json(default_tenant, "/api/analytics/summary")

    assert [(m["model"], m["request_count"], m["avg_latency_ms"]) for m in models["items"]] == [
        ("gpt-4o", 4, 150.0),
        ("claude-3-5-sonnet", 2, 225.0),
        ("gpt-4o-mini", 1, 1000.0),
    ]
    assert keys["items"][0] == {
        "api_key_hash": "k1",
        "request_count": 3,
        "total_tokens": 450,
        "total_cost_usd": 1.5,
        "last_active_at": "2025-01-12T23:59:59Z",
    }
    assert overview == {
        "total_requests": 7,
        "total_input_tokens": 700,
        "total_output_tokens": 375,
        "total_tokens": 1075,
        "total_cost_usd": 3.875,
        "active_keys": 3,
        "top_model": "gpt-4o",
    }


async def test_latency_and_errors(default_tenant: httpx.AsyncClient) -> None:
    latency = await get_json(default_tenant, "/api/analytics/latency?group_by=provider")
    errors = await get_json(default_tenant, "/api/analytics/errors?group_by=route")
    overall = await get_json(default_tenant, "/api/analytics/latency")

    assert latency["group_by"] == "provider"
    assert latency["items"][0] == {
        "group": "openai",
        "request_count": 5,
        "avg_ms": 320.0,
        "min_ms": 0,
        "max_ms": 1000,
        "p50_ms": 200.0,
        "p95_ms": 860.0,
        "p99_ms": 972.0,
    }
    assert errors["items"][0] == {
        "group": OPENAI_PATH,
        "total_requests": 5,
        "error_count_4xx": 1,
        "error_count_5xx": 1,
        "error_rate": 0.4,
    }
    # rows 1–7 sorted: [0, 50, 100, 200, 300, 400, 1000]; p95 rank 5.7 → 400 + .7·600
    assert overall == {
        "items": [
            {
                "request_count": 7,
                "avg_ms": 2050 / 7,
                "min_ms": 0,
                "max_ms": 1000,
                "p50_ms": 200.0,
                "p95_ms": 820.0,
                "p99_ms": 964.0,
            }
        ]
    }


async def test_every_endpoint_honours_the_tenant_scope(seeded: Api, store_settings: Settings) -> None:
    assert seeded.store is not None
    async with scoped_client(store_settings, seeded.store, TenantScope("acme", "prod")) as acme:
        overview = await get_json(acme, "/api/analytics/summary")
        keys = await get_json(acme, "/api/analytics/keys")
        errors = await get_json(acme, "/api/analytics/errors")
        usage = await get_json(acme, "/api/analytics/usage?group_by=model")
    async with scoped_client(store_settings, seeded.store, TenantScope("acme", "nobody")) as empty:
        nothing = await get_json(empty, "/api/analytics/models")
    unscoped = await get_json(seeded.client, "/api/analytics/summary")

    assert (overview["total_requests"], overview["top_model"], overview["total_cost_usd"]) == (
        2,
        "claude-3-haiku",
        8.0,
    )
    assert [k["api_key_hash"] for k in keys["items"]] == ["k9"]
    assert errors["items"] == [
        {"total_requests": 2, "error_count_4xx": 0, "error_count_5xx": 1, "error_rate": 0.5}
    ]
    assert {i["group"] for i in usage["items"]} == {"gpt-4o", "claude-3-haiku"}
    assert nothing == {"items": []}
    assert unscoped["total_requests"] == 9


async def test_filters_apply(seeded: Api) -> None:
    body = await get_json(
        seeded.client, "/api/analytics/summary?from=2025-01-07&to=2025-01-08&provider=anthropic"
    )

    # rows 5 (default) and 9 (acme)
    assert (body["total_requests"], body["total_tokens"], body["active_keys"]) == (2, 505, 1)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_without_a_store_every_endpoint_is_503(
    endpoint: str, tmp_path: Path, make_api: Callable[..., httpx.AsyncClient]
) -> None:
    client = make_api(storage_settings("sqlite", tmp_path), None, None)

    response = await client.get(f"/api/analytics/{endpoint}")

    assert (response.status_code, response.json()) == (503, {"error": "trace store is not configured"})


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_store_failures_are_500(
    endpoint: str, tmp_path: Path, make_api: Callable[..., httpx.AsyncClient]
) -> None:
    settings = storage_settings("sqlite", tmp_path)
    store = await open_trace_store(settings, migrate=False)  # no tables: every query fails
    try:
        response = await make_api(settings, store, None).get(f"/api/analytics/{endpoint}?group_by=model")
    finally:
        await store.close()

    assert (response.status_code, response.json()) == (500, {"error": "failed to read analytics"})


@pytest.mark.parametrize("method", ["POST", "DELETE", "HEAD"])
async def test_only_get_is_allowed(sqlite_api: Api, method: str) -> None:
    response = await sqlite_api.client.request(method, "/api/analytics/summary")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, OPTIONS"


def _schema_of(doc: dict[str, Any], path: str, status: int) -> dict[str, Any]:
    schema: dict[str, Any] = doc["paths"][path]["get"]["responses"][str(status)]["content"][
        "application/json"
    ]["schema"]
    return schema


def conforms_any(value: Any, schema: dict[str, Any]) -> None:
    if "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    if "oneOf" in schema:
        failures = []
        for option in schema["oneOf"]:
            try:
                conforms(value, option)
                return
            except AssertionError as exc:
                failures.append(exc)
        raise AssertionError(failures)
    conforms(value, schema)


@pytest.mark.parametrize(
    "url",
    [
        "usage",
        "usage?group_by=model",
        "usage?bucket=hour",
        "cost",
        "cost?group_by=provider&bucket=week",
        "models",
        "keys",
        "latency",
        "latency?group_by=key",
        "errors",
        "errors?group_by=route",
        "summary",
        "summary?from=2030-01-01",
        "usage?bucket=x",
    ],
)
async def test_responses_match_the_openapi_document(seeded: Api, url: str) -> None:
    doc = (await seeded.client.get("/api/openapi.json")).json()
    path = "/api/analytics/" + url.split("?")[0]
    response = await seeded.client.get("/api/analytics/" + url)

    conforms_any(response.json(), _schema_of(doc, path, response.status_code))
    params = {p["name"] for p in doc["paths"][path]["get"]["parameters"]}
    assert {"from", "to", "provider", "model"} <= params
