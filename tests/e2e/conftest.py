"""End-to-end fixtures: a fake upstream and the real gateway, both under uvicorn on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ongoingai.app import Gateway
from ongoingai.config import Settings
from tests.fakes.memory_sink import MemorySink
from tests.fakes.servers import ServerThread
from tests.fakes.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

PROVIDER_KEY = "sk-proj-e2eSECRETprovider0123456789abcdefABCDEF"
ANTHROPIC_KEY = "sk-ant-api03-e2eSECRETanthropic0123456789abcdef"


@dataclass
class RunningGateway:
    url: str
    sink: MemorySink
    app: Gateway

    @property
    def openai_base(self) -> str:
        return self.url + "/openai/v1"

    @property
    def anthropic_base(self) -> str:
        return self.url + "/anthropic"


@pytest.fixture(scope="session")
def fake_server() -> Iterator[tuple[FakeUpstream, ServerThread]]:
    fake = FakeUpstream()
    server = ServerThread(fake)
    server.start()
    yield fake, server
    server.stop()


@pytest.fixture
def fake(fake_server: tuple[FakeUpstream, ServerThread]) -> Iterator[FakeUpstream]:
    upstream, _ = fake_server
    upstream.reset()
    yield upstream
    upstream.reset()


def gateway_settings(upstream_url: str, **overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "providers": {
            "openai": {"upstream": upstream_url, "prefix": "/openai"},
            "anthropic": {"upstream": upstream_url, "prefix": "/anthropic"},
        },
    }
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return Settings(**data)


GatewayFactory = Callable[..., RunningGateway]


@pytest.fixture
def start_gateway(fake_server: tuple[FakeUpstream, ServerThread]) -> Iterator[GatewayFactory]:
    """Start a gateway against the fake; keyword overrides use `__` for nesting (tracing__capture_bodies)."""
    started: list[ServerThread] = []

    def start(sink_capacity: int | None = None, **overrides: Any) -> RunningGateway:
        _, upstream_server = fake_server
        settings = gateway_settings(upstream_server.url, **overrides)
        sink = MemorySink(capacity=sink_capacity)
        app = Gateway(settings, sink)
        server = ServerThread(app)
        server.start()
        started.append(server)
        return RunningGateway(server.url, sink, app)

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def gateway(start_gateway: GatewayFactory) -> RunningGateway:
    return start_gateway()
