"""`GET /api/traces/{id}/replay` and `POST /api/traces/{id}/fork` over HTTP on both backends.

Chain in group g1: A (seq 1) ← B (no seq) ← C (seq 3) on thread t1, run r1, written out of time order;
D branches from B on thread t2; E is the same group and thread in another tenant; X has no lineage.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ongoingai.api.openapi import SCHEMAS
from ongoingai.config import Settings
from ongoingai.query import TenantScope
from ongoingai.store import SqlTraceStore, open_trace_store
from ongoingai.store.tables import traces
from ongoingai.traces import TraceRecord
from tests.api.conftest import Api
from tests.api.test_analytics_api import scoped_client
from tests.api.test_api_service import conforms
from tests.fakes.storage import storage_settings
from tests.fakes.trace_records import T0, make_record

A, B, C, D, E, X = (f"{n:032x}" for n in (0xA, 0xB, 0xC, 0xD, 0xE, 0xF))
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def node(
    n: int, seconds: int, *, group: str = "g1", parent: str = "", seq: int = 0, **meta: Any
) -> TraceRecord:
    metadata: dict[str, Any] = {"lineage_checkpoint_id": f"{n:032x}", "lineage_immutable": True, **meta}
    if group:
        metadata["lineage_group_id"] = group
    if parent:
        metadata["lineage_parent_checkpoint_id"] = parent
    if seq:
        metadata["lineage_checkpoint_seq"] = seq
    at = T0 + timedelta(seconds=seconds)
    return make_record(n, trace_group_id=group or None, timestamp=at, created_at=at, metadata=metadata)


CHAIN = [
    node(0xC, 20, parent=B, seq=3, lineage_thread_id="t1", lineage_run_id="r1"),
    node(0xA, 30, seq=1, lineage_thread_id="t1", lineage_run_id="r1"),
    node(0xB, 10, parent=A, lineage_thread_id="t1", lineage_run_id="r1"),
    node(0xD, 40, parent=B, seq=3, lineage_thread_id="t2", lineage_run_id="r2"),
    replace(node(0xE, 5, lineage_thread_id="t1", lineage_run_id="r1"), org_id="acme"),
    node(0xF, 50, group=""),
    node(0x10, 60, group="g2", seq=7),
]


@pytest.fixture
async def seeded(api: Api) -> Api:
    assert api.store is not None
    assert (await api.store.write_batch(CHAIN)).written == len(CHAIN)
    return api


@pytest.fixture
async def default_tenant(seeded: Api, store_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    assert seeded.store is not None
    async with scoped_client(store_settings, seeded.store, TenantScope("default", "default")) as client:
        yield client


async def snapshot(store: SqlTraceStore) -> list[Any]:
    async with store.connect() as conn:
        return [tuple(r) for r in (await conn.execute(sa.select(traces).order_by(traces.c.id))).all()]


def ids(body: dict[str, Any]) -> list[str]:
    return [c["id"] for c in body["checkpoints"]]


async def test_replay_orders_the_thread_up_to_the_source(default_tenant: httpx.AsyncClient) -> None:
    response = await default_tenant.get(f"/api/traces/{C}/replay")

    body = response.json()
    assert response.status_code == 200
    assert ids(body) == [A, B, C]  # D is on another thread; E is another tenant's
    assert body["source_trace_id"] == C
    assert body["target_checkpoint_id"] == C
    assert body["truncated"] is False
    assert body["lineage"] == {
        "group_id": "g1",
        "thread_id": "t1",
        "run_id": "r1",
        "checkpoint_id": C,
        "parent_checkpoint_id": B,
        "checkpoint_seq": 3,
        "immutable": True,
    }
    assert body["checkpoints"][1] == {
        "id": B,
        "timestamp": "2025-01-02T03:04:15.123456Z",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "request_method": "POST",
        "request_path": "/openai/v1/chat/completions",
        "response_status": 200,
        "total_tokens": 42,
        "latency_ms": 350,
        "created_at": "2025-01-02T03:04:15.123456Z",
        "lineage": {
            "group_id": "g1",
            "thread_id": "t1",
            "run_id": "r1",
            "checkpoint_id": B,
            "parent_checkpoint_id": A,
            "immutable": True,
        },
    }
    assert body["target_trace"]["id"] == C
    assert body["target_trace"]["request_body"].startswith('{"model"')


async def test_replay_to_an_earlier_checkpoint_returns_its_full_trace(
    default_tenant: httpx.AsyncClient,
) -> None:
    body = (await default_tenant.get(f"/api/traces/{C}/replay?checkpoint_id={B}")).json()

    assert ids(body) == [A, B]
    assert body["target_checkpoint_id"] == B
    assert body["target_trace"]["id"] == B
    assert body["lineage"]["checkpoint_id"] == B


async def test_thread_and_run_parameters_override_the_source_lineage(
    default_tenant: httpx.AsyncClient,
) -> None:
    both = (
        await default_tenant.get(f"/api/traces/{C}/replay?thread_id=t2&run_id=r2&checkpoint_id={D}")
    ).json()
    run_only = await default_tenant.get(f"/api/traces/{C}/replay?run_id=r2&checkpoint_id={D}")

    # history = D (t2, r2) + the source C; equal seqs, C is older
    assert ids(both) == [C, D]
    assert (both["lineage"]["thread_id"], both["lineage"]["run_id"]) == ("t2", "r2")
    # thread t1 (the source's) with run r2 matches nothing: D is not in the history
    assert run_only.status_code == 404


async def test_a_checkpoint_outside_the_history_is_404(default_tenant: httpx.AsyncClient) -> None:
    response = await default_tenant.get(f"/api/traces/{C}/replay?checkpoint_id={D}")

    assert (response.status_code, response.json()) == (404, {"error": "checkpoint not found"})


async def test_a_trace_without_a_group_replays_alone_and_lineage_stays_empty(
    default_tenant: httpx.AsyncClient,
) -> None:
    body = (await default_tenant.get(f"/api/traces/{X}/replay")).json()

    assert ids(body) == [X]
    assert body["lineage"] == {"checkpoint_id": X, "immutable": True}


async def test_the_limit_truncates_the_oldest_history(default_tenant: httpx.AsyncClient) -> None:
    newest_two = (await default_tenant.get(f"/api/traces/{C}/replay?limit=2")).json()
    earlier_target = (await default_tenant.get(f"/api/traces/{C}/replay?limit=2&checkpoint_id={A}")).json()

    # newest two by created_at are A (30 s) and C (20 s); B is cut off
    assert ids(newest_two) == [A, C]
    assert newest_two["truncated"] is True
    assert ids(earlier_target) == [A]
    assert earlier_target["truncated"] is False  # the target is not the last item


async def test_tenants_are_isolated(seeded: Api, default_tenant: httpx.AsyncClient) -> None:
    other = await default_tenant.get(f"/api/traces/{E}/replay")
    hidden = await default_tenant.get(f"/api/traces/{C}/replay?checkpoint_id={E}")
    unscoped = await seeded.client.get(f"/api/traces/{C}/replay?checkpoint_id={E}")

    assert (other.status_code, other.json()) == (404, {"error": "trace not found"})
    assert (hidden.status_code, hidden.json()) == (404, {"error": "checkpoint not found"})
    assert unscoped.status_code == 200  # auth off: one tenant's view of everything


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=x", "limit must be an integer"),
        ("limit=-1", "limit must be >= 0"),
        ("limit=501", "limit must be <= 500"),
    ],
)
async def test_replay_limit_is_validated(seeded: Api, query: str, message: str) -> None:
    response = await seeded.client.get(f"/api/traces/{C}/replay?{query}")

    assert (response.status_code, response.json()) == (400, {"error": message})


@pytest.mark.parametrize("query", ["limit=0", "limit=500", "limit="])
async def test_replay_limit_edges_are_accepted(seeded: Api, query: str) -> None:
    assert (await seeded.client.get(f"/api/traces/{C}/replay?{query}")).status_code == 200


async def test_replay_of_a_missing_trace_is_404(seeded: Api) -> None:
    response = await seeded.client.get("/api/traces/nope/replay")

    assert (response.status_code, response.json()) == (404, {"error": "trace not found"})


async def test_fork_from_the_source(default_tenant: httpx.AsyncClient) -> None:
    response = await default_tenant.post(f"/api/traces/{C}/fork")

    body = response.json()
    assert response.status_code == 200
    run = body["lineage"]["run_id"]
    assert re.match(r"^run_[0-9a-f]{16}$", run) and re.match(r"^fork_[0-9a-f]{16}$", body["fork_id"])
    assert body == {
        "fork_id": body["fork_id"],
        "source_trace_id": C,
        "source_checkpoint_id": C,
        "lineage": {
            "group_id": "g1",
            "thread_id": "t1",
            "run_id": run,
            "parent_checkpoint_id": C,
            "checkpoint_seq": 4,
        },
        "headers": {
            "X-OngoingAI-Trace-Group-ID": "g1",
            "X-OngoingAI-Thread-ID": "t1",
            "X-OngoingAI-Run-ID": run,
            "X-OngoingAI-Parent-Checkpoint-ID": C,
            "X-OngoingAI-Checkpoint-Seq": "4",
        },
    }


async def test_fork_at_another_checkpoint_with_thread_and_run(default_tenant: httpx.AsyncClient) -> None:
    body = {"checkpoint_id": B, "thread_id": " branch ", "run_id": "mine"}

    forked = (await default_tenant.post(f"/api/traces/{C}/fork", json=body)).json()

    assert forked["source_checkpoint_id"] == B
    # B has no stored seq (inference is for ordering only): the branch starts at 1
    assert forked["lineage"] == {
        "group_id": "g1",
        "thread_id": "branch",
        "run_id": "mine",
        "parent_checkpoint_id": B,
        "checkpoint_seq": 1,
    }


async def test_fork_without_lineage_derives_group_and_thread_from_the_checkpoint(
    default_tenant: httpx.AsyncClient,
) -> None:
    forked = (await default_tenant.post(f"/api/traces/{X}/fork", content=b"null")).json()

    assert forked["lineage"]["group_id"] == X
    assert forked["lineage"]["thread_id"] == "thread_" + X
    assert forked["lineage"]["checkpoint_seq"] == 1


async def test_fork_rejects_a_checkpoint_of_another_group(default_tenant: httpx.AsyncClient) -> None:
    response = await default_tenant.post(f"/api/traces/{C}/fork", json={"checkpoint_id": f"{0x10:032x}"})

    assert (response.status_code, response.json()) == (
        400,
        {"error": "checkpoint must belong to the same trace lineage group"},
    )


@pytest.mark.parametrize("target", ["missing", E], ids=["missing", "other-tenant"])
async def test_fork_of_an_unknown_checkpoint_is_404(default_tenant: httpx.AsyncClient, target: str) -> None:
    as_source = await default_tenant.post(f"/api/traces/{target}/fork")
    as_checkpoint = await default_tenant.post(f"/api/traces/{C}/fork", json={"checkpoint_id": target})

    for response in (as_source, as_checkpoint):
        assert (response.status_code, response.json()) == (404, {"error": "trace not found"})


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"checkpoint_id": "x"} {}',
        b'{"checkpoint_id": "x"} trailing',
        b'{"unknown": 1}',
        b'{"thread_id": 5}',
        b"[]",
        b'"text"',
    ],
    ids=["bad-json", "two-values", "trailing-junk", "unknown-field", "non-string", "array", "string"],
)
async def test_invalid_fork_bodies_are_400(seeded: Api, body: bytes) -> None:
    response = await seeded.client.post(f"/api/traces/{C}/fork", content=body)

    assert (response.status_code, response.json()) == (400, {"error": "invalid fork request body"})


@pytest.mark.parametrize("body", [b"", b"  \n", b"{}", b"null", b'{"thread_id": null}'])
async def test_empty_fork_bodies_are_accepted(seeded: Api, body: bytes) -> None:
    assert (await seeded.client.post(f"/api/traces/{C}/fork", content=body)).status_code == 200


async def test_fork_bodies_are_limited_to_16_kib(seeded: Api) -> None:
    fits = b"{}" + b" " * (16 * 1024 - 2)
    too_big = fits + b" "

    async def streamed() -> AsyncIterator[bytes]:
        for _ in range(17):
            yield b" " * 1024

    ok = await seeded.client.post(f"/api/traces/{C}/fork", content=fits)
    declared = await seeded.client.post(f"/api/traces/{C}/fork", content=too_big)
    chunked = await seeded.client.post(f"/api/traces/{C}/fork", content=streamed())
    missing = await seeded.client.post("/api/traces/nope/fork", content=too_big)

    assert ok.status_code == 200
    for response in (declared, chunked):
        assert (response.status_code, response.json()) == (413, {"error": "fork request body too large"})
    assert missing.status_code == 404  # the source is loaded before the body is read


async def test_replay_and_fork_never_write(seeded: Api) -> None:
    assert seeded.store is not None
    before = await snapshot(seeded.store)

    for _ in range(2):
        await seeded.client.get(f"/api/traces/{C}/replay")
        await seeded.client.post(f"/api/traces/{C}/fork", json={"checkpoint_id": B})

    assert await snapshot(seeded.store) == before


@pytest.mark.parametrize(
    ("method", "path", "allow"), [("GET", "fork", "POST, OPTIONS"), ("POST", "replay", "GET, OPTIONS")]
)
async def test_wrong_methods_are_405(seeded: Api, method: str, path: str, allow: str) -> None:
    response = await seeded.client.request(method, f"/api/traces/{C}/{path}")

    assert (response.status_code, response.headers["allow"]) == (405, allow)


@pytest.mark.parametrize("request_", ["replay", "fork"])
async def test_store_failures_are_500(
    request_: str, tmp_path: Path, make_api: Callable[..., httpx.AsyncClient]
) -> None:
    settings = storage_settings("sqlite", tmp_path)
    store = await open_trace_store(settings, migrate=False)
    try:
        client = make_api(settings, store, None)
        if request_ == "replay":
            response = await client.get(f"/api/traces/{C}/replay")
        else:
            response = await client.post(f"/api/traces/{C}/fork")
    finally:
        await store.close()

    message = "failed to query replay checkpoints" if request_ == "replay" else "failed to read trace"
    assert (response.status_code, response.json()) == (500, {"error": message})


async def test_without_a_store_both_are_503(
    tmp_path: Path, make_api: Callable[..., httpx.AsyncClient]
) -> None:
    client = make_api(storage_settings("sqlite", tmp_path), None, None)

    for response in (await client.get(f"/api/traces/{C}/replay"), await client.post(f"/api/traces/{C}/fork")):
        assert (response.status_code, response.json()) == (503, {"error": "trace store is not configured"})


async def test_responses_match_the_openapi_document(seeded: Api) -> None:
    doc = (await seeded.client.get("/api/openapi.json")).json()
    replay_doc = doc["paths"]["/api/traces/{trace_id}/replay"]["get"]
    fork_doc = doc["paths"]["/api/traces/{trace_id}/fork"]["post"]

    for response, op in [
        (await seeded.client.get(f"/api/traces/{C}/replay"), replay_doc),
        (await seeded.client.get("/api/traces/nope/replay"), replay_doc),
        (await seeded.client.post(f"/api/traces/{C}/fork"), fork_doc),
        (await seeded.client.post(f"/api/traces/{C}/fork", content=b"{"), fork_doc),
    ]:
        schema = op["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
        conforms(response.json(), schema)
    assert {p["name"] for p in replay_doc["parameters"]} == {
        "trace_id",
        "checkpoint_id",
        "thread_id",
        "run_id",
        "limit",
    }
    body_schema = fork_doc["requestBody"]["content"]["application/json"]["schema"]
    assert set(SCHEMAS[body_schema["$ref"].rsplit("/", 1)[1]]["properties"]) == {
        "checkpoint_id",
        "thread_id",
        "run_id",
    }
