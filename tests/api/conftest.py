"""API fixtures: the API app over a real store (both backends) and an unstarted BatchWriter, via httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ongoingai.api import create_api
from ongoingai.config import Settings
from ongoingai.sink import BatchWriter, TraceSink
from ongoingai.store import SqlTraceStore
from tests.fakes.trace_stores import MemoryTraceStore

STARTED = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
NOW = STARTED + timedelta(seconds=42, milliseconds=900)


def fixed_now() -> datetime:
    return NOW


@dataclass
class Api:
    client: httpx.AsyncClient
    store: SqlTraceStore | None
    writer: BatchWriter | None


ApiFactory = Callable[..., Any]


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


@pytest.fixture
async def make_api() -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []

    def make(settings: Settings, store: SqlTraceStore | None, sink: TraceSink | None) -> httpx.AsyncClient:
        client = client_for(create_api(settings, store, sink, STARTED, clock=fixed_now, version="9.9.9"))
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def writer() -> BatchWriter:
    return BatchWriter(MemoryTraceStore(), store_driver="sqlite", queue_capacity=1024)


@pytest.fixture
async def api(
    make_api: Callable[..., httpx.AsyncClient],
    trace_store: SqlTraceStore,
    store_settings: Settings,
    writer: BatchWriter,
) -> Api:
    return Api(make_api(store_settings, trace_store, writer), trace_store, writer)
