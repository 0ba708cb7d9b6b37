"""Service routes and conventions: `/`, health, ready, diagnostics, CORS, 404/405, OpenAPI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ongoingai.api import ROUTES
from ongoingai.api.openapi import SCHEMAS
from ongoingai.api.params import TRACE_LIST_PARAMS
from ongoingai.config import Settings
from ongoingai.sink import BatchWriter
from ongoingai.store import SqlTraceStore, open_trace_store
from ongoingai.store.engine import create_postgres_engine
from tests.api.conftest import Api, fixed_now
from tests.fakes.storage import storage_settings
from tests.fakes.trace_records import make_record
from tests.fakes.trace_stores import MemoryTraceStore

CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
    "access-control-allow-headers": "Content-Type, Authorization, X-API-Key, X-OngoingAI-Gateway-Key",
}


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
async def test_root_answers_service_metadata_to_any_method(api: Api, method: str) -> None:
    response = await api.client.request(method, "/")

    assert response.status_code == 200
    assert response.json() == {"name": "ongoingai gateway", "version": "9.9.9", "status": "ok"}


async def test_health_reports_uptime_driver_and_count(api: Api, store_settings: Settings) -> None:
    assert api.store is not None
    await api.store.write_batch([make_record(1), make_record(2)])

    body = (await api.client.get("/api/health")).json()

    assert {k: body[k] for k in ("status", "version", "uptime_sec", "storage_driver", "trace_count")} == {
        "status": "ok",
        "version": "9.9.9",
        "uptime_sec": 42,
        "storage_driver": store_settings.storage.driver,
        "trace_count": 2,
    }
    if store_settings.storage.driver == "sqlite":
        assert body["db_size_bytes"] > 0
    else:
        assert "db_size_bytes" not in body


async def test_ready_when_storage_answers_and_migrations_are_current(api: Api) -> None:
    response = await api.client.get("/api/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"storage": "ok", "migrations": "ok"}}


async def test_not_ready_when_the_schema_is_behind(
    empty_store_settings: Settings, make_api: Callable[..., httpx.AsyncClient]
) -> None:
    store = await open_trace_store(empty_store_settings, migrate=False)
    try:
        response = await make_api(empty_store_settings, store, None).get("/api/ready")
    finally:
        await store.close()

    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "checks": {"storage": "ok", "migrations": "schema behind"},
    }


async def test_not_ready_when_storage_does_not_answer(
    tmp_path: Path, make_api: Callable[..., httpx.AsyncClient]
) -> None:
    settings = storage_settings("postgres", tmp_path, "postgresql://postgres@127.0.0.1:1/none")
    store = SqlTraceStore(create_postgres_engine(settings.storage.dsn.get_secret_value(), 1, 1), "postgres")
    try:
        response = await make_api(settings, store, None).get("/api/ready")
    finally:
        await store.close()

    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "checks": {"storage": "unavailable", "migrations": "not checked"},
    }


async def test_not_ready_without_a_store(tmp_path: Path, make_api: Callable[..., httpx.AsyncClient]) -> None:
    response = await make_api(storage_settings("sqlite", tmp_path), None, None).get("/api/ready")

    assert response.status_code == 503
    assert response.json()["checks"] == {"storage": "not configured", "migrations": "not checked"}


async def test_diagnostics_carry_the_schema_and_every_field(api: Api, writer: BatchWriter) -> None:
    for n in range(900):
        writer.enqueue(make_record(n))

    body = (await api.client.get("/api/diagnostics/trace-pipeline")).json()

    assert body["schema_version"] == "trace-pipeline-diagnostics.v1"
    assert body["generated_at"] == "2025-06-01T12:00:42.9Z"
    d = body["diagnostics"]
    assert (d["queue_capacity"], d["queue_depth"], d["queue_utilization_pct"]) == (1024, 900, 87)
    assert (d["queue_pressure_state"], d["queue_high_watermark_pressure_state"]) == ("high", "high")
    assert d["store_driver"] == "sqlite"
    assert "last_enqueue_drop_at" not in d and "write_failures_by_class" not in d


@pytest.mark.parametrize(
    ("depth", "capacity", "state"),
    [(0, 10, "ok"), (4, 10, "ok"), (5, 10, "elevated"), (8, 10, "high"), (10, 10, "saturated")],
)
async def test_diagnostics_pressure_states(
    depth: int, capacity: int, state: str, tmp_path: Path, make_api: Callable[..., httpx.AsyncClient]
) -> None:
    writer = BatchWriter(MemoryTraceStore(), store_driver="sqlite", queue_capacity=capacity, clock=fixed_now)
    for n in range(depth + (1 if depth == capacity else 0)):
        writer.enqueue(make_record(n))

    d = (
        await make_api(storage_settings("sqlite", tmp_path), None, writer).get(
            "/api/diagnostics/trace-pipeline"
        )
    ).json()["diagnostics"]

    assert (d["queue_depth"], d["queue_pressure_state"]) == (depth, state)
    if depth == capacity:
        assert d["enqueue_dropped_total"] == 1
        assert d["last_enqueue_drop_at"] == "2025-06-01T12:00:42.9Z"


async def test_diagnostics_without_a_writer_are_503(
    tmp_path: Path, make_api: Callable[..., httpx.AsyncClient]
) -> None:
    response = await make_api(storage_settings("sqlite", tmp_path), None, None).get(
        "/api/diagnostics/trace-pipeline"
    )

    assert (response.status_code, response.json()) == (
        503,
        {"error": "trace pipeline diagnostics unavailable"},
    )


@pytest.mark.parametrize("path", ["/", "/api/health", "/api/traces?limit=x", "/api/traces/nope", "/nowhere"])
async def test_every_response_carries_cors_headers(api: Api, path: str) -> None:
    response = await api.client.get(path)

    assert {k: response.headers.get(k) for k in CORS} == CORS


@pytest.mark.parametrize("path", ["/api/traces", "/api/anything/at/all", "/"])
async def test_options_is_204_without_a_body(api: Api, path: str) -> None:
    response = await api.client.options(path)

    assert (response.status_code, response.content) == (204, b"")
    assert response.headers["access-control-allow-origin"] == "*"


async def test_a_custom_auth_header_is_allowed_by_cors(
    tmp_path: Path, make_api: Callable[..., httpx.AsyncClient]
) -> None:
    settings = Settings(auth={"header": "X-Team-Key"})

    response = await make_api(settings, None, None).get("/")

    assert response.headers["access-control-allow-headers"].endswith(", X-Team-Key")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD"])
@pytest.mark.parametrize("path", ["/api/traces", "/api/traces/abc", "/api/health", "/api/ready"])
async def test_wrong_methods_are_405_with_allow(api: Api, method: str, path: str) -> None:
    response = await api.client.request(method, path)

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, OPTIONS"
    if method != "HEAD":
        assert response.json() == {"error": "method not allowed"}


@pytest.mark.parametrize(
    "path",
    ["/nowhere", "/api/unknown", "/api/traces/a/b", "/api/traces/", "/api/health/", "/v1/chat/completions"],
)
async def test_unknown_paths_are_a_plain_404(api: Api, path: str) -> None:
    response = await api.client.get(path)

    assert response.status_code == 404
    assert response.text == "404 page not found\n"
    assert response.headers["content-type"].startswith("text/plain")


async def test_openapi_lists_exactly_the_served_routes_and_parameters(api: Api) -> None:
    doc = (await api.client.get("/api/openapi.json")).json()

    assert set(doc["paths"]) == {route.path for route in ROUTES}
    assert set(doc["paths"]["/api/traces"]) == {"get"}
    params = {p["name"] for p in doc["paths"]["/api/traces"]["get"]["parameters"]}
    assert params == {p.name for p in TRACE_LIST_PARAMS}
    assert (await api.client.get("/docs")).status_code == 404


def conforms(value: Any, schema: dict[str, Any]) -> None:
    """A small JSON-schema check for the shapes the document uses: objects, required, no extras."""
    if "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    if schema.get("type") == "object" and "properties" in schema:
        assert isinstance(value, dict)
        assert set(schema["required"]) <= set(value), set(schema["required"]) - set(value)
        if schema.get("additionalProperties") is False:
            assert set(value) <= set(schema["properties"]), set(value) - set(schema["properties"])
        for key, item in value.items():
            if key in schema["properties"]:
                conforms(item, schema["properties"][key])
    if schema.get("type") == "array":
        for item in value:
            conforms(item, schema["items"])


async def test_responses_match_the_documented_schemas(api: Api) -> None:
    assert api.store is not None
    meta = {"lineage_thread_id": "t", "lineage_checkpoint_seq": 2}
    await api.store.write_batch([make_record(1, trace_group_id="g", metadata=meta), make_record(2)])
    doc = (await api.client.get("/api/openapi.json")).json()
    checked = 0
    for path, url in [
        ("/", "/"),
        ("/api/health", "/api/health"),
        ("/api/ready", "/api/ready"),
        ("/api/traces", "/api/traces?limit=1"),
        ("/api/traces/{trace_id}", f"/api/traces/{make_record(1).id}"),
        ("/api/traces/{trace_id}", "/api/traces/missing"),
        ("/api/traces", "/api/traces?limit=x"),
        ("/api/diagnostics/trace-pipeline", "/api/diagnostics/trace-pipeline"),
    ]:
        response = await api.client.get(url)
        documented = doc["paths"][path]["get"]["responses"]
        assert str(response.status_code) in documented, (url, response.status_code)
        conforms(
            response.json(), documented[str(response.status_code)]["content"]["application/json"]["schema"]
        )
        checked += 1
    assert checked == 8


async def test_the_store_can_be_attached_after_the_app_is_built(
    trace_store: SqlTraceStore, tmp_path: Path
) -> None:
    from ongoingai.api import attach_store, create_api
    from tests.api.conftest import STARTED, client_for

    app = create_api(storage_settings("sqlite", tmp_path), None, None, STARTED)
    async with client_for(app) as client:
        before = await client.get("/api/traces")
        attach_store(app, trace_store)
        after = await client.get("/api/traces")

    assert (before.status_code, after.status_code) == (503, 200)
