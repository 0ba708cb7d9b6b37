"""Each PII mode end to end on each store (issue 6): the production wiring (`build_gateway`) on SQLite and
Postgres, the official `openai` and `anthropic` SDKs, streaming and not. For every mode: what the fake
provider received, what the client got, what the stored trace holds, the `pii.*` audit record read back
through `GET /api/audit`, and a scan of everything written (database rows and files, spill journal, logs)
for the sensitive values sent and received.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import asyncpg
import httpx
import openai
import orjson
import pytest

from ongoingai.app import build_gateway
from ongoingai.config import Settings
from tests.e2e import wire
from tests.e2e.conftest import ANTHROPIC_KEY, PROVIDER_KEY
from tests.fakes.sdk import anthropic_client, openai_client
from tests.fakes.servers import ServerThread
from tests.fakes.upstream import FakeUpstream, Reply
from tests.fakes.written import texts_under

pytestmark = pytest.mark.e2e

EMAIL = "alice.smith@example.com"
LEAKED_KEY = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
PROMPT = f"mail {EMAIL} my key {LEAKED_KEY}"
REPLY_EMAIL = "bob.jones@example.org"
# The reply's email arrives split across stream events: storage must redact every fragment.
REPLY_WORDS = ["Reach me at bob.jo", "nes@exam", "ple.org today"]
REPLY_TEXT = "".join(REPLY_WORDS)
SENSITIVE = (EMAIL, LEAKED_KEY, REPLY_EMAIL, "bob.jo", "nes@exam", PROVIDER_KEY, ANTHROPIC_KEY)
CLIENT_LOGGERS = ("openai", "anthropic", "httpx", "httpcore")
MODES = ["redact_storage", "redact_upstream", "block", "observe"]
AUDIT_OF = {
    "redact_storage": ("pii.redact", "redacted", "storage"),
    "redact_upstream": ("pii.redact", "redacted", "request"),
    "block": ("pii.block", "denied", "request"),
    "observe": ("pii.observe", "observed", "request"),
}
OPENAI_REPLY = wire.CHAT_COMPLETION.replace(b"Hello! How can I help?", REPLY_TEXT.encode())
ANTHROPIC_REPLY = wire.ANTHROPIC_MESSAGE.replace(b"Hi! My name is Claude.", REPLY_TEXT.encode())


@dataclass
class Served:
    url: str
    backend: str
    tmp: Path
    dsn: str

    def get(self, path: str, **params: str) -> Any:
        response = httpx.get(self.url + path, params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(self, path: str, count: int, **params: str) -> list[dict[str, Any]]:
        """Poll a list route until it has `count` items (traces and audit records are written async)."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            items: list[dict[str, Any]] = self.get(path, **params)["items"]
            if len(items) >= count:
                return items
            time.sleep(0.05)
        raise AssertionError(f"expected {count} items from {path}")


Serve = Callable[[str], Served]


@pytest.fixture
def serve(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    fake_server: tuple[FakeUpstream, ServerThread],
) -> Iterator[Serve]:
    dsn = request.getfixturevalue("postgres_migrated_dsn") if backend == "postgres" else ""
    storage: dict[str, Any] = (
        {"driver": "postgres", "dsn": dsn, "pool": {"min_size": 1, "max_size": 5}}
        if backend == "postgres"
        else {"driver": "sqlite", "path": str(tmp_path / "data" / "ongoingai.db")}
    )
    started: list[ServerThread] = []

    def start(mode: str) -> Served:
        _, upstream = fake_server
        settings = Settings(
            storage=storage,
            providers={
                "openai": {"upstream": upstream.url, "prefix": "/openai"},
                "anthropic": {"upstream": upstream.url, "prefix": "/anthropic"},
            },
            tracing={"capture_bodies": True, "spill": {"path": str(tmp_path / "spill")}},
            pii={"mode": mode},
        )
        server = ServerThread(build_gateway(settings))
        server.start()
        started.append(server)
        return Served(server.url, backend, tmp_path, dsn)

    yield start
    for server in started:
        server.stop()


def run_the_four_calls(served: Served, fake: FakeUpstream, blocked: bool) -> list[str]:
    """OpenAI and Anthropic, plain and streamed, each sending PROMPT; the text each client got back."""
    fake.script("/v1/chat/completions", Reply.json(OPENAI_REPLY))
    fake.script("/v1/chat/completions", Reply.sse(wire.chat_stream(REPLY_WORDS)))
    fake.script("/v1/messages", Reply.json(ANTHROPIC_REPLY))
    fake.script("/v1/messages", Reply.sse(wire.anthropic_stream(REPLY_WORDS)))
    oai = openai_client(served.url + "/openai/v1", PROVIDER_KEY)
    claude = anthropic_client(served.url + "/anthropic", ANTHROPIC_KEY)
    with oai, claude:
        messages: Any = [{"role": "user", "content": PROMPT}]

        def openai_plain() -> str:
            return (
                oai.chat.completions.create(model="gpt-4o", messages=messages).choices[0].message.content
                or ""
            )

        def openai_stream() -> str:
            chunks = oai.chat.completions.create(model="gpt-4o", messages=messages, stream=True)
            return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

        def anthropic_plain() -> str:
            reply = claude.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=messages)
            return "".join(block.text for block in reply.content if block.type == "text")

        def anthropic_stream() -> str:
            with claude.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=messages) as s:
                return "".join(s.text_stream)

        got: list[str] = []
        for call in (openai_plain, openai_stream, anthropic_plain, anthropic_stream):
            if blocked:
                with pytest.raises((openai.PermissionDeniedError, anthropic.PermissionDeniedError)) as info:
                    call()
                assert info.value.status_code == 403
                got.append(info.value.response.text)
            else:
                got.append(call())
        return got


def everything_written(served: Served, caplog: pytest.LogCaptureFixture) -> str:
    """Every row of every table (read through the driver), the database and spill files, and every log
    record but the test's own clients' (the SDKs log the requests they send at DEBUG)."""
    parts = [
        f"{r.getMessage()} {r.__dict__}" for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)
    ]
    if served.backend == "postgres":
        parts += asyncio.run(_postgres_rows(served.dsn))
    else:
        db = served.tmp / "data" / "ongoingai.db"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                parts += [repr(row) for row in conn.execute(f'SELECT * FROM "{table}"')]
        conn.close()
    parts += texts_under(served.tmp / "data", served.tmp / "spill")
    return "\n".join(parts)


async def _postgres_rows(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        rows: list[str] = []
        for t in tables:
            rows += [r[0] for r in await conn.fetch(f'SELECT to_jsonb(x)::text FROM "{t[0]}" x')]
        return rows
    finally:
        await conn.close()


def assert_stored_trace(trace: dict[str, Any], mode: str) -> None:
    meta = trace["metadata"]
    assert meta["redaction_mode"] == mode
    assert "[EMAIL_REDACTED:" in trace["request_body"]
    assert "[TOKEN_REDACTED:" in trace["request_body"]
    assert trace["request_headers"].get("Authorization", trace["request_headers"].get("X-Api-Key")) == [
        "[REDACTED]"
    ]
    if mode == "block":
        assert trace["response_status"] == 403
        assert meta["redaction_counts"]["email"] == 1
        return
    assert trace["response_status"] == 200
    # The prompt's email and key, and the reply's email (in a stream: split over three events).
    assert (meta["redaction_counts"]["email"], meta["redaction_counts"]["token_like"]) == (2, 1)
    assert "[EMAIL_REDACTED:" in trace["response_body"]
    if mode == "observe":
        assert meta["redaction_observed_counts"] == {"email": 1, "token_like": 1}
        assert meta["redaction_observed_paths"] == ["$.messages[0].content"]


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_on_each_store(
    serve: Serve, fake: FakeUpstream, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    served = serve(mode)
    blocked = mode == "block"
    got = run_the_four_calls(served, fake, blocked)

    # What the provider received.
    if blocked:
        assert fake.received == []
    else:
        assert len(fake.received) == 4
        for received in fake.received:
            assert received.header("content-length") == str(len(received.body))
            forwarded_raw = EMAIL.encode() in received.body and LEAKED_KEY.encode() in received.body
            assert forwarded_raw is (mode != "redact_upstream")
            if mode == "redact_upstream":
                assert b"[EMAIL_REDACTED:" in received.body and b"[TOKEN_REDACTED:" in received.body

    # What the client got: the provider's answer untouched, or the plain-text denial.
    if blocked:
        assert got == ["request blocked by pii policy\n"] * 4
    else:
        assert got == [REPLY_TEXT] * 4

    # What storage holds.
    summaries = served.wait_for("/api/traces", 4)
    assert len(summaries) == 4
    traces = {s["id"]: served.get(f"/api/traces/{s['id']}") for s in summaries}
    for trace in traces.values():
        assert_stored_trace(trace, mode)
    providers = sorted(t["provider"] for t in traces.values())
    assert providers == ["anthropic", "anthropic", "openai", "openai"]

    # The audit records: one per request, tied to its trace and correlation id, filterable.
    action, outcome, stage = AUDIT_OF[mode]
    records = served.wait_for("/api/audit", 4)
    assert len(records) == 4
    assert {r["trace_id"] for r in records} == set(traces)
    for record in records:
        trace = traces[record["trace_id"]]
        assert (record["action"], record["outcome"], record["details"]["stage"]) == (action, outcome, stage)
        assert record["correlation_id"] == trace["metadata"]["correlation_id"]
        assert (record["org_id"], record["workspace_id"], record["actor_key_id"]) == (
            "default",
            "default",
            "",
        )
        assert record["details"]["mode"] == mode
        assert record["details"]["policy_id"] == "default/v1"
        assert record["details"]["counts"]["email"] >= 1
        assert record["reason"] == "pii_detected"
    assert len(served.get("/api/audit", action=action, outcome=outcome)["items"]) == 4
    other = "pii.block" if action != "pii.block" else "pii.redact"
    assert served.get("/api/audit", action=other)["items"] == []
    one = next(iter(traces))
    assert [r["trace_id"] for r in served.get("/api/audit", trace_id=one)["items"]] == [one]

    # Nothing sensitive anywhere the gateway wrote, the audit rows included.
    written = everything_written(served, caplog)
    assert "pii.redact" in written or "pii.block" in written or "pii.observe" in written
    assert "[EMAIL_REDACTED:" in written  # the scan saw the stored bodies
    for value in SENSITIVE:
        assert value not in written, value
    assert orjson.dumps(records).decode().count("@") == 0
