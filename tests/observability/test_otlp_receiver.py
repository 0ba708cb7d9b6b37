"""A running `ongoingai serve` exports spans and metrics over OTLP/HTTP to a real (tiny) receiver (issue 7).

The receiver decodes the protobuf payloads with opentelemetry-proto, as a collector would.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import orjson
import pytest
import yaml
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.e2e import wire
from tests.fakes.sdk import openai_client
from tests.fakes.servers import ServerThread, free_port
from tests.fakes.upstream import FakeUpstream, Reply

pytestmark = pytest.mark.e2e

PROVIDER_KEY = "sk-proj-otlpSECRET0123456789abcdefghijklmnopqrstuv"
BINARY = Path(sys.executable).parent / "ongoingai"


class Receiver:
    """Collects decoded OTLP requests; `raw` keeps the bytes for the secret scan."""

    def __init__(self) -> None:
        self.traces: list[ExportTraceServiceRequest] = []
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.raw: list[bytes] = []
        self.lock = threading.Lock()

    def span_names(self) -> set[str]:
        with self.lock:
            return {
                span.name
                for request in self.traces
                for resource in request.resource_spans
                for scope in resource.scope_spans
                for span in scope.spans
            }

    def metric_names(self) -> set[str]:
        with self.lock:
            return {
                metric.name
                for request in self.metrics
                for resource in request.resource_metrics
                for scope in resource.scope_metrics
                for metric in scope.metrics
            }

    def service_names(self) -> set[str]:
        with self.lock:
            return {
                attribute.value.string_value
                for request in self.traces
                for resource in request.resource_spans
                for attribute in resource.resource.attributes
                if attribute.key == "service.name"
            }


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            response: bytes
            with receiver.lock:
                receiver.raw.append(body)
                if self.path == "/v1/traces":
                    receiver.traces.append(ExportTraceServiceRequest.FromString(body))
                    response = ExportTraceServiceResponse().SerializeToString()
                elif self.path == "/v1/metrics":
                    receiver.metrics.append(ExportMetricsServiceRequest.FromString(body))
                    response = ExportMetricsServiceResponse().SerializeToString()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(response)))
            self.end_headers()
            self.wfile.write(response)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, int]]:
    collected = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(collected))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield collected, server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def upstream() -> Iterator[tuple[FakeUpstream, str]]:
    fake = FakeUpstream()
    server = ServerThread(fake)
    server.start()
    yield fake, server.url
    server.stop()


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early with {proc.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def ready(base: str) -> bool:
    try:
        return httpx.get(base + "/api/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_serve_exports_spans_and_metrics_over_otlp_http(
    tmp_path: Path, receiver: tuple[Receiver, int], upstream: tuple[FakeUpstream, str]
) -> None:
    collected, collector_port = receiver
    fake, upstream_url = upstream
    port = free_port()
    config = {
        "server": {"host": "127.0.0.1", "port": port},
        "storage": {"driver": "sqlite", "path": str(tmp_path / "data" / "ongoingai.db")},
        "providers": {
            "openai": {"upstream": upstream_url, "prefix": "/openai"},
            "anthropic": {"upstream": upstream_url, "prefix": "/anthropic"},
        },
        "tracing": {"spill": {"path": str(tmp_path / "spill")}},
        "observability": {
            "otel": {
                "enabled": True,
                "endpoint": f"http://127.0.0.1:{collector_port}",
                "service_name": "gateway-under-test",
                "metric_export_interval_ms": 200,
                "export_timeout_ms": 2000,
                "prometheus_enabled": True,
            }
        },
    }
    path = tmp_path / "ongoingai.yaml"
    path.write_text(yaml.safe_dump(config))
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(BINARY), "serve", "--config", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_until(lambda: ready(base), proc, "readiness")
        fake.script("/v1/chat/completions", Reply.json(wire.CHAT_COMPLETION))
        client = openai_client(base + "/openai/v1", PROVIDER_KEY)
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert httpx.get(base + "/metrics", timeout=5).status_code == 200
        wanted_spans = {"POST /openai/*", "gateway.auth", "gateway.route", "proxy POST /openai/*"}
        wait_until(lambda: wanted_spans <= collected.span_names(), proc, "spans")
        wait_until(lambda: "gateway.trace.write" in collected.span_names(), proc, "the writer's span")
        wanted_metrics = {"ongoingai.proxy.request_total", "ongoingai.proxy.request_duration_seconds"}
        wait_until(lambda: wanted_metrics <= collected.metric_names(), proc, "metrics")
        wait_until(
            lambda: "ongoingai.trace.written_total" in collected.metric_names(), proc, "writer metrics"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr.decode()
    assert collected.service_names() == {"gateway-under-test"}
    logs = stdout.decode()
    assert any(orjson.loads(line).get("msg") == "opentelemetry enabled" for line in logs.splitlines() if line)
    assert PROVIDER_KEY not in logs
    assert all(PROVIDER_KEY.encode() not in payload for payload in collected.raw)
