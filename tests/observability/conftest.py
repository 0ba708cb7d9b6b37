"""The real gateway with OpenTelemetry on, exporting into memory: spans, metrics and log lines."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ongoingai.api.context import TENANT_SCOPE_KEY
from ongoingai.app import Gateway, Lifecycle
from ongoingai.auth.runtime import AuthRuntime
from ongoingai.observability.logging import build_handler
from ongoingai.observability.otel import Telemetry
from ongoingai.observability.scrub import Scrubber
from ongoingai.providers.routes import PROVIDERS
from tests.e2e.conftest import gateway_settings
from tests.fakes.memory_sink import MemorySink
from tests.fakes.servers import ServerThread
from tests.fakes.upstream import FakeUpstream

PROVIDER_KEY = "sk-proj-obsSECRETprovider0123456789abcdefABCDEF"
GATEWAY_TOKEN = "ogk_obsSECRETgatewaytoken0123456789abcd"
AUTH_KEY = {
    "id": "gwk_test_1",
    "token": GATEWAY_TOKEN,
    "org_id": "org-acme",
    "workspace_id": "ws-main",
    "role": "developer",
}


@dataclass
class ObservedGateway:
    url: str
    sink: MemorySink
    app: Gateway
    telemetry: Telemetry
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    logs: io.StringIO

    def spans(self) -> list[ReadableSpan]:
        self.telemetry.force_flush()
        return list(self.exporter.get_finished_spans())

    def wait_for_spans(self, predicate: Callable[[list[ReadableSpan]], bool]) -> list[ReadableSpan]:
        """Spans end just after the client has its last byte: wait for them (a condition, not a time)."""
        deadline = time.monotonic() + 10
        while True:
            spans = self.spans()
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"spans never matched: {[s.name for s in spans]}")
            time.sleep(0.01)

    def wait_for_server_spans(self, count: int = 1) -> list[ReadableSpan]:
        return self.wait_for_spans(lambda spans: sum(s.kind.name == "SERVER" for s in spans) >= count)

    def metrics(self) -> dict[str, list[Any]]:
        """Metric name → its data points."""
        data: MetricsData | None = self.reader.get_metrics_data()
        out: dict[str, list[Any]] = {}
        if data is None:
            return out
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    out[metric.name] = list(metric.data.data_points)
        return out

    def log_lines(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.logs.getvalue().splitlines() if line.strip()]


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


@pytest.fixture
def log_buffer() -> Iterator[io.StringIO]:
    """JSON log lines of everything the gateway logs, through the production handler and filters."""
    buffer = io.StringIO()
    scrubber = Scrubber(literals=[GATEWAY_TOKEN])
    handler = build_handler("json", scrubber, stream=buffer)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(previous)


ObservedFactory = Callable[..., ObservedGateway]


@pytest.fixture
def start_observed(
    fake_server: tuple[FakeUpstream, ServerThread], log_buffer: io.StringIO
) -> Iterator[ObservedFactory]:
    """Start a gateway with OTel on (in-memory exporter and reader); overrides as in tests/e2e."""
    started: list[tuple[ServerThread, Telemetry]] = []

    def start(
        sink: MemorySink | None = None, *, with_auth: bool = False, **overrides: Any
    ) -> ObservedGateway:
        _, upstream_server = fake_server
        if with_auth:
            overrides.setdefault("auth__enabled", True)
            overrides.setdefault("auth__keys", [AUTH_KEY])
        overrides.setdefault("observability__otel__enabled", True)
        overrides.setdefault("observability__otel__prometheus_enabled", True)
        settings = gateway_settings(upstream_server.url, **overrides)
        exporter = InMemorySpanExporter()
        reader = InMemoryMetricReader()
        telemetry = Telemetry.from_settings(settings, span_exporter=exporter, metric_reader=reader)
        sink = sink or MemorySink()
        lifecycle = Lifecycle()
        guard = None
        if with_auth:
            runtime = AuthRuntime(settings, tenant_scope_key=TENANT_SCOPE_KEY, providers=PROVIDERS)
            guard = runtime.guard

            async def start_auth() -> None:
                await runtime.start(None)

            lifecycle.on_start.append(start_auth)
            lifecycle.on_stop.append(runtime.stop)
        app = Gateway(settings, sink, telemetry=telemetry, auth=guard, lifecycle=lifecycle)
        server = ServerThread(app)
        server.start()
        started.append((server, telemetry))
        return ObservedGateway(server.url, sink, app, telemetry, exporter, reader, log_buffer)

    yield start
    for server, _ in started:
        server.stop()


def by_name(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    matches = [s for s in spans if s.name == name]
    assert len(matches) == 1, f"{name}: {[s.name for s in spans]}"
    return matches[0]


def parent_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan | None:
    if span.parent is None:
        return None
    for candidate in spans:
        if candidate.context is not None and candidate.context.span_id == span.parent.span_id:
            return candidate
    return None
