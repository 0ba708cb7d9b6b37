"""JSON log lines (observability.md §4): shape, context ids, one access line per request, scrubbing."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import httpx
import orjson
import pytest
from opentelemetry.sdk.trace import TracerProvider

from ongoingai.observability.logging import CORRELATION_ID, build_handler, level_of
from ongoingai.observability.scrub import REDACTED, Scrubber
from tests.e2e import wire
from tests.fakes.servers import free_port
from tests.fakes.upstream import FakeUpstream, Reply
from tests.observability.conftest import GATEWAY_TOKEN, PROVIDER_KEY, ObservedFactory, by_name

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
CHAT = "/v1/chat/completions"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    buffer = io.StringIO()
    logger = logging.getLogger("tests.observability.unit")
    handler = build_handler("json", Scrubber(literals=[GATEWAY_TOKEN]), stream=buffer)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, buffer
    logger.removeHandler(handler)
    logger.propagate = True


def lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in buffer.getvalue().splitlines()]


def test_line_shape(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = captured
    logger.warning("trace queue is full; dropping trace", extra={"path": "/openai/v1/x", "status": 200})
    (line,) = lines(buffer)
    assert RFC3339.match(str(line["time"]))
    assert line["level"] == "WARN"
    assert line["msg"] == "trace queue is full; dropping trace"
    assert line["path"] == "/openai/v1/x" and line["status"] == 200
    assert "correlation_id" not in line and "trace_id" not in line


def test_correlation_id_comes_from_context_unless_given(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = captured
    token = CORRELATION_ID.set("corr-abc")
    try:
        logger.info("one")
        logger.info("two", extra={"correlation_id": "explicit"})
    finally:
        CORRELATION_ID.reset(token)
    assert [line["correlation_id"] for line in lines(buffer)] == ["corr-abc", "explicit"]


def test_recording_span_ids_are_added(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = captured
    tracer = TracerProvider(shutdown_on_exit=False).get_tracer("test")
    with tracer.start_as_current_span("x") as span:
        logger.info("inside")
    logger.info("outside")
    inside, outside = lines(buffer)
    ctx = span.get_span_context()
    assert inside["trace_id"] == format(ctx.trace_id, "032x")
    assert inside["span_id"] == format(ctx.span_id, "016x")
    assert "trace_id" not in outside


def test_messages_fields_and_tracebacks_are_scrubbed(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = captured
    logger.info("got %s", PROVIDER_KEY, extra={"error": f"bad key {PROVIDER_KEY}", "items": [GATEWAY_TOKEN]})
    try:
        raise RuntimeError(f"upstream rejected Bearer {PROVIDER_KEY}")
    except RuntimeError:
        logger.exception("failed")
    text = buffer.getvalue()
    assert PROVIDER_KEY not in text and GATEWAY_TOKEN not in text
    first, second = lines(buffer)
    assert first["msg"] == f"got {REDACTED}"
    assert first["items"] == [REDACTED]
    assert REDACTED in str(second["exc_info"])


def test_text_format_is_scrubbed_too() -> None:
    buffer = io.StringIO()
    logger = logging.getLogger("tests.observability.text")
    handler = build_handler("text", stream=buffer)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("key %s", PROVIDER_KEY)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert PROVIDER_KEY not in buffer.getvalue()
    assert "ERROR" in buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "level"), [("debug", 10), ("INFO", 20), ("warn", 30), ("error", 40), ("", 20)]
)
def test_level_from_config(name: str, level: int) -> None:
    assert level_of(name) == level


def _request_lines(gw_lines: list[dict[str, object]], correlation_id: str) -> list[dict[str, object]]:
    return [line for line in gw_lines if line.get("correlation_id") == correlation_id]


def test_one_access_line_per_request_with_the_spec_fields(
    start_observed: ObservedFactory, fake: FakeUpstream
) -> None:
    gw = start_observed()
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    response = httpx.post(
        gw.url + "/openai/v1/chat/completions",
        json={"model": "gpt-4o", "messages": []},
        headers={"x-request-id": "client-req-42"},
        timeout=10,
    )
    assert response.headers["x-ongoingai-correlation-id"] == "client-req-42"
    server = by_name(gw.wait_for_server_spans(), "POST /openai/*")
    access = [line for line in gw.log_lines() if line["msg"] == "request complete"]
    assert len(access) == 1
    (line,) = access
    assert line["correlation_id"] == "client-req-42"
    assert line["method"] == "POST"
    assert line["path"] == "/openai/v1/chat/completions"
    assert line["route"] == "/openai/*"
    assert line["provider"] == "openai"
    assert line["status"] == 200
    assert isinstance(line["latency_ms"], float)
    assert line["level"] == "INFO"
    assert server.context is not None
    assert line["trace_id"] == format(server.context.trace_id, "032x")


def test_every_line_of_a_failing_request_shares_its_correlation_id(start_observed: ObservedFactory) -> None:
    gw = start_observed(providers__openai__upstream=f"http://127.0.0.1:{free_port()}")
    response = httpx.post(gw.url + "/openai/v1/chat/completions", json={}, timeout=10)
    assert response.status_code == 502
    gw.wait_for_server_spans()
    correlation_id = response.headers["x-ongoingai-correlation-id"]
    mine = _request_lines(gw.log_lines(), correlation_id)
    assert {line["msg"] for line in mine} >= {"proxy request failed", "request complete"}
    trace_ids = {line.get("trace_id") for line in mine}
    assert len(trace_ids) == 1 and None not in trace_ids


def test_api_and_metrics_requests_get_access_lines(start_observed: ObservedFactory) -> None:
    gw = start_observed()
    httpx.get(gw.url + "/api/missing", timeout=10)
    httpx.get(gw.url + "/metrics", timeout=10)
    gw.wait_for_server_spans()
    access = [line for line in gw.log_lines() if line["msg"] == "request complete"]
    assert [(line["path"], line["status"]) for line in access] == [("/api/missing", 404), ("/metrics", 200)]
