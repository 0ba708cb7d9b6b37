"""Auth fixtures: the real gateway (auth layer, API, proxy) over a real store on either backend, with
manual clocks for the key cache, driven in-process through httpx; a fake upstream on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ongoingai.api import TENANT_SCOPE_KEY, create_api
from ongoingai.api.cors import cors_headers
from ongoingai.api.keys import attach_auth
from ongoingai.app import Gateway
from ongoingai.auth.runtime import AuthRuntime
from ongoingai.config import Settings
from ongoingai.config.model import AuthSettings, ProvidersSettings
from ongoingai.providers.routes import PROVIDERS
from ongoingai.store import SqlTraceStore, open_trace_store
from tests.fakes.clocks import T0, ManualClock
from tests.fakes.memory_sink import MemorySink
from tests.fakes.servers import ServerThread
from tests.fakes.upstream import FakeUpstream, Reply

PROVIDER_KEY = "sk-proj-authSECRETprovider0123456789abcdef"
CHAT = (
    b'{"id":"c1","object":"chat.completion","model":"gpt-4o","choices":[],'
    b'"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}'
)


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


def with_auth(base: Settings, upstream_url: str = "http://127.0.0.1:9", **auth: Any) -> Settings:
    providers = {
        "openai": {"upstream": upstream_url, "prefix": "/openai"},
        "anthropic": {"upstream": upstream_url, "prefix": "/anthropic"},
    }
    return base.model_copy(
        update={
            "auth": AuthSettings.model_validate({"enabled": True, **auth}),
            "providers": ProvidersSettings.model_validate(providers),
        }
    )


@dataclass
class Stack:
    settings: Settings
    gateway: Gateway
    runtime: AuthRuntime
    store: SqlTraceStore | None
    sink: MemorySink
    clock: ManualClock
    client: httpx.AsyncClient
    header: str = "X-OngoingAI-Gateway-Key"
    extra: dict[str, Any] = field(default_factory=dict)

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        provider_key: bool = True,
        **kw: Any,
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers[self.header] = token
        if provider_key and path.startswith(("/openai", "/anthropic")):
            headers.setdefault("Authorization", f"Bearer {PROVIDER_KEY}")
        return await self.client.request(method, path, headers=headers, **kw)

    async def flush_audit(self) -> None:
        """Wait until the audit writer wrote everything queued so far."""
        await self.runtime.audit.drain()

    def script_chat(self, upstream: FakeUpstream, count: int = 1) -> None:
        for _ in range(count):
            upstream.script("/v1/chat/completions", Reply.json(CHAT))


StackFactory = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def make_stack() -> AsyncIterator[StackFactory]:
    """Build and start a gateway: `await make_stack(settings, store=True)`."""
    opened: list[Stack] = []

    async def make(settings: Settings, *, store: bool = True, start: bool = True) -> Stack:
        clock = ManualClock(T0)
        trace_store = await open_trace_store(settings) if store else None
        api = create_api(settings, trace_store, MemorySink(), T0, clock=clock.datetime)
        runtime = AuthRuntime(
            settings,
            tenant_scope_key=TENANT_SCOPE_KEY,
            providers=PROVIDERS,
            api_headers=cors_headers(settings.auth.header),
            monotonic=clock.monotonic,
            wall=clock.wall,
            clock=clock.datetime,
        )
        attach_auth(api, runtime.keys, runtime.audit)
        sink = MemorySink()
        gateway = Gateway(settings, sink, api=api, auth=runtime.guard)
        await gateway.upstream.start()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gateway")
        stack = Stack(settings, gateway, runtime, trace_store, sink, clock, client, settings.auth.header)
        stack.extra["api"] = api
        opened.append(stack)
        runtime.audit.flush_interval_s = 0.001
        if start:
            await runtime.start(trace_store.engine if trace_store else None)
        return stack

    yield make
    for stack in opened:
        await stack.client.aclose()
        await stack.runtime.stop()
        await stack.gateway.upstream.close()
        if stack.store is not None:
            await stack.store.close()


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    from tests.fakes.storage import storage_settings

    return storage_settings("sqlite", tmp_path)
