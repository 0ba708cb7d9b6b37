"""Limits fixtures: the real gateway (auth + limits + API + proxy) over a real SQLite store, driven
in-process through httpx or under uvicorn, with a fake upstream on loopback; and the local Redis.

Redis (issue 8): 127.0.0.1:6379 (override with ONGOINGAI_TEST_REDIS_URL), one logical database that
each test empties first. When no server answers, Redis cases skip with a reason locally and fail under
CI=true, like the Postgres cases.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ongoingai.api import TENANT_SCOPE_KEY, create_api
from ongoingai.api.cors import cors_headers
from ongoingai.api.keys import attach_auth
from ongoingai.api.limits import attach_limits
from ongoingai.app import Gateway
from ongoingai.auth.runtime import AuthRuntime
from ongoingai.config import Settings
from ongoingai.limits import Limiter
from ongoingai.limits.limiter import build_backend
from ongoingai.limits.rules import LimitRules
from ongoingai.providers.routes import PROVIDERS
from ongoingai.store import SqlTraceStore, open_trace_store
from tests.fakes.clocks import T0, ManualClock
from tests.fakes.memory_sink import MemorySink
from tests.fakes.servers import ServerThread
from tests.fakes.storage import storage_settings
from tests.fakes.upstream import FakeUpstream, Reply

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
PROVIDER_KEY = "sk-proj-limitsSECRETprovider0123456789abcdef"
TOKEN_A = "ogk_limitsSECRETtokenA_0123456789abcdefgh"
TOKEN_B = "ogk_limitsSECRETtokenB_0123456789abcdefgh"
TOKEN_C = "ogk_limitsSECRETtokenC_0123456789abcdefgh"
SECRETS = (PROVIDER_KEY, TOKEN_A, TOKEN_B, TOKEN_C)
KEYS = [
    {"id": "ka", "token": TOKEN_A, "role": "admin", "org_id": "acme", "workspace_id": "ws1"},
    {"id": "kb", "token": TOKEN_B, "role": "developer", "org_id": "acme", "workspace_id": "ws1"},
    {"id": "kc", "token": TOKEN_C, "role": "developer", "org_id": "acme", "workspace_id": "ws2"},
]
HEADER = "X-OngoingAI-Gateway-Key"
CHAT_PATH = "/openai/v1/chat/completions"
CHAT = (
    b'{"id":"c1","object":"chat.completion","model":"gpt-4o","choices":[],'
    b'"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}'
)


def redis_test_url() -> str:
    return os.environ.get("ONGOINGAI_TEST_REDIS_URL") or DEFAULT_REDIS_URL


async def _flush(url: str) -> None:
    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


@pytest.fixture
def redis_url() -> str:
    """The test Redis database, emptied; skips (or fails under CI=true) when no server answers."""
    url = redis_test_url()
    try:
        asyncio.run(_flush(url))
    except (RedisError, OSError) as exc:
        reason = f"no Redis server at {url}: {type(exc).__name__}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: Redis tests must run)")
        pytest.skip(reason)
    return url


def redis_dump(url: str) -> str:
    """Every key and value in the test database, as text (secret scans)."""
    client = redis.Redis.from_url(url)
    try:
        parts: list[str] = []
        for key in client.scan_iter():
            kind_raw: Any = client.type(key)
            kind = kind_raw.decode()
            value: Any
            if kind == "hash":
                value = client.hgetall(key)
            elif kind == "list":
                value = client.lrange(key, 0, -1)
            elif kind == "zset":
                value = client.zrange(key, 0, -1, withscores=True)
            else:
                value = client.get(key)
            parts.append(f"{key!r} {value!r}")
        return "\n".join(parts)
    finally:
        client.close()


@pytest.fixture(scope="session")
def upstream_server() -> Iterator[tuple[FakeUpstream, str]]:
    fake = FakeUpstream()
    server = ServerThread(fake)
    server.start()
    yield fake, server.url
    server.stop()


@pytest.fixture
def upstream(upstream_server: tuple[FakeUpstream, str]) -> Iterator[FakeUpstream]:
    fake, _ = upstream_server
    fake.reset()
    yield fake
    fake.reset()


def limit_settings(tmp_path: Path, upstream_url: str, limits: dict[str, Any]) -> Settings:
    base = storage_settings("sqlite", tmp_path)
    providers = {
        "openai": {"upstream": upstream_url, "prefix": "/openai"},
        "anthropic": {"upstream": upstream_url, "prefix": "/anthropic"},
    }
    return Settings.model_validate(
        {
            **base.model_dump(mode="python", exclude={"storage", "tracing"}),
            "storage": {"driver": "sqlite", "path": base.storage.path},
            "tracing": {"spill": {"path": base.tracing.spill.path}},
            "providers": providers,
            "auth": {"enabled": True, "keys": KEYS},
            "limits": limits,
        }
    )


@dataclass
class Stack:
    settings: Settings
    gateway: Gateway
    runtime: AuthRuntime
    limiter: Limiter | None
    store: SqlTraceStore
    sink: MemorySink
    clock: ManualClock
    client: httpx.AsyncClient
    extra: dict[str, Any] = field(default_factory=dict)

    async def chat(self, token: str = TOKEN_A, *, provider_key: bool = True) -> httpx.Response:
        headers = {HEADER: token}
        if provider_key:
            headers["Authorization"] = f"Bearer {PROVIDER_KEY}"
        return await self.client.post(CHAT_PATH, headers=headers, json={"model": "gpt-4o", "messages": []})


StackFactory = Callable[..., Awaitable[Stack]]


def build_stack(settings: Settings, clock: ManualClock, store: SqlTraceStore) -> Stack:
    rules = LimitRules.from_settings(settings.limits)
    limiter = (
        Limiter(rules, build_backend(settings, rules, clock.wall), wall=clock.wall) if rules.enabled else None
    )
    api = create_api(settings, store, MemorySink(), T0, clock=clock.datetime)
    runtime = AuthRuntime(
        settings,
        tenant_scope_key=TENANT_SCOPE_KEY,
        providers=PROVIDERS,
        api_headers=cors_headers(settings.auth.header),
        clock=clock.datetime,
        limits=limiter,
    )
    runtime.audit.flush_interval_s = 0.001
    attach_auth(api, runtime.keys, runtime.audit)
    attach_limits(api, limiter)
    sink = MemorySink()
    gateway = Gateway(settings, sink, api=api, auth=runtime.guard, audit=runtime.audit, limits=limiter)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gateway")
    return Stack(settings, gateway, runtime, limiter, store, sink, clock, client)


@pytest.fixture
async def make_stack(
    tmp_path: Path, upstream_server: tuple[FakeUpstream, str]
) -> AsyncIterator[StackFactory]:
    """`await make_stack(limits={...})`: a started gateway with those `limits.*` settings."""
    opened: list[Stack] = []

    async def make(limits: dict[str, Any], *, clock: ManualClock | None = None, start: bool = True) -> Stack:
        settings = limit_settings(tmp_path, upstream_server[1], limits)
        store = await open_trace_store(settings)
        stack = build_stack(settings, clock or ManualClock(T0), store)
        opened.append(stack)
        await stack.gateway.upstream.start()
        await stack.runtime.start(store.engine)
        if start and stack.limiter is not None:
            await stack.limiter.start(store.connect)
        return stack

    yield make
    for stack in opened:
        await stack.client.aclose()
        if stack.limiter is not None:
            await stack.limiter.stop()
        await stack.runtime.stop()
        await stack.gateway.upstream.close()
        await stack.store.close()


def script_chat(upstream: FakeUpstream, count: int = 1) -> None:
    for _ in range(count):
        upstream.script("/v1/chat/completions", Reply.json(CHAT))
