"""Every proxy failure class: a defined status and message for the client, and a trace that says why."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.e2e import wire
from tests.e2e.conftest import PROVIDER_KEY, GatewayFactory
from tests.fakes.sdk import openai_client
from tests.fakes.servers import free_port
from tests.fakes.upstream import FakeUpstream, Reply

pytestmark = pytest.mark.e2e

CHAT = "/v1/chat/completions"


def post(url: str, **kw: object) -> httpx.Response:
    return httpx.post(
        url + "/openai/v1/chat/completions",
        json={"model": "gpt-4o", "messages": []},
        headers={"authorization": f"Bearer {PROVIDER_KEY}"},
        timeout=10,
        **kw,  # type: ignore[arg-type]
    )


def test_dead_upstream_is_502_with_trace(start_gateway: GatewayFactory) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    gw = start_gateway(providers__openai__upstream=dead)
    response = post(gw.url)
    assert response.status_code == 502
    assert response.text == "upstream request failed\n"
    assert response.headers["content-type"].startswith("text/plain")
    (trace,) = gw.sink.wait_for(1)
    assert trace.response_status == 502
    assert trace.metadata["failure_class"] == "upstream_unreachable"
    assert trace.model == "gpt-4o"


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A listening socket whose accept queue is full, so new connects hang (SYNs dropped)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect(("127.0.0.1", port))
        fillers.append(s)
    yield f"http://127.0.0.1:{port}"
    for s in fillers:
        s.close()
    server.close()


def test_connect_timeout_is_504(start_gateway: GatewayFactory, blackhole: str) -> None:
    gw = start_gateway(providers__openai__upstream=blackhole, providers__openai__timeout={"connect": 0.3})
    response = post(gw.url)
    assert response.status_code == 504
    assert response.text == "upstream request timed out\n"
    (trace,) = gw.sink.wait_for(1)
    assert trace.metadata["failure_class"] == "connect_timeout"
    assert trace.response_status == 504


def test_first_byte_timeout_is_504(start_gateway: GatewayFactory, fake: FakeUpstream) -> None:
    gw = start_gateway(providers__openai__timeout={"first_byte": 0.3})
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION, stall_before_headers=2.0))
    response = post(gw.url)
    assert response.status_code == 504
    assert response.text == "upstream request timed out\n"
    (trace,) = gw.sink.wait_for(1)
    assert trace.metadata["failure_class"] == "first_byte_timeout"


def test_idle_timeout_mid_stream_aborts_and_records(
    start_gateway: GatewayFactory, fake: FakeUpstream
) -> None:
    gw = start_gateway(providers__openai__timeout={"idle": 0.3})
    fake.script(CHAT, Reply.sse(wire.chat_stream(["a", "b", "c"]), pause=1.0))
    with pytest.raises(httpx.RemoteProtocolError):  # noqa: SIM117
        with httpx.stream("POST", gw.url + "/openai/v1/chat/completions", json={"model": "gpt-4o-mini"}) as r:
            assert r.status_code == 200
            for _ in r.iter_raw():
                pass
    (trace,) = gw.sink.wait_for(1)
    assert trace.metadata["failure_class"] == "upstream_idle_timeout"
    assert trace.metadata["stream_incomplete"] is True
    assert trace.response_status == 200
    assert trace.metadata["stream_chunks"] == 1


def test_a_stream_longer_than_the_idle_timeout_but_never_idle_completes(
    start_gateway: GatewayFactory, fake: FakeUpstream
) -> None:
    """The idle deadline is moved lazily (handler.py `IDLE_SLACK_RATIO`), never earlier than `idle` after
    the last chunk: 10 events 0.12 s apart (~1 s in all) under an idle timeout of 0.3 s all arrive."""
    gw = start_gateway(providers__openai__timeout={"idle": 0.3})
    reply = Reply.sse(wire.chat_stream(list("abcdef")), pause=0.12)
    assert len(reply.chunks) == 10
    fake.script(CHAT, reply)
    with httpx.stream("POST", gw.url + "/openai/v1/chat/completions", json={"model": "gpt-4o-mini"}) as r:
        assert r.status_code == 200
        body = b"".join(r.iter_raw())
    assert body.endswith(b"data: [DONE]\n\n")
    (trace,) = gw.sink.wait_for(1)
    assert "failure_class" not in trace.metadata
    assert trace.metadata["stream_chunks"] == 10


def test_upstream_reset_mid_stream_is_recorded(gateway_and_fake: tuple[GatewayFactory, FakeUpstream]) -> None:
    start, fake = gateway_and_fake
    gw = start()
    fake.script(CHAT, Reply.sse(wire.chat_stream(["a", "b", "c"]), reset_after=2, pause=0.05))
    stream = openai_client(gw.url + "/openai/v1", PROVIDER_KEY).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], stream=True
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass
    (trace,) = gw.sink.wait_for(1)
    assert trace.metadata["failure_class"] == "upstream_reset"
    assert trace.metadata["stream_incomplete"] is True
    assert trace.metadata["stream_chunks"] == 2


def test_client_disconnect_mid_stream_is_recorded(start_gateway: GatewayFactory, fake: FakeUpstream) -> None:
    gw = start_gateway()
    fake.script(CHAT, Reply.sse(wire.chat_stream(["a", "b", "c", "d"]), pause=0.5))
    port = int(gw.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        assert s.recv(65536).startswith(b"HTTP/1.1 200")
    (trace,) = gw.sink.wait_for(1)
    assert trace.metadata["failure_class"] == "client_disconnect"
    assert trace.metadata["stream_incomplete"] is True
    assert trace.response_status == 200


def test_client_gone_while_the_upstream_thinks_cancels_the_call(
    start_gateway: GatewayFactory, fake: FakeUpstream
) -> None:
    """The client leaves at once, before the client watcher has started (handler.py
    `WATCH_CLIENT_AFTER_S`): the watcher still sees the disconnect when it starts and cancels the call,
    rather than the exchange waiting out the upstream's 3 s and recording a 200."""
    gw = start_gateway()
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION, stall_before_headers=3.0))
    port = int(gw.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
    (trace,) = gw.sink.wait_for(1)
    assert trace.metadata["failure_class"] == "client_disconnect"
    assert trace.metadata["stream_incomplete"] is True
    assert trace.response_status == 502
    assert len(fake.received) == 1


def test_oversized_body_is_413(start_gateway: GatewayFactory, fake: FakeUpstream) -> None:
    gw = start_gateway(server__max_request_body_bytes=1000)
    response = httpx.post(gw.url + "/openai/v1/chat/completions", content=b"x" * 1001)
    assert response.status_code == 413
    assert response.text == "request body too large\n"
    assert fake.received == []
    (trace,) = gw.sink.wait_for(1)
    assert trace.response_status == 413


def test_oversized_chunked_body_is_413(start_gateway: GatewayFactory, fake: FakeUpstream) -> None:
    gw = start_gateway(server__max_request_body_bytes=1000)

    def body() -> Iterator[bytes]:
        for _ in range(5):
            yield b"y" * 300

    response = httpx.post(gw.url + "/openai/v1/chat/completions", content=body())
    assert response.status_code == 413
    assert fake.received == []


def test_unknown_path_is_plain_404_and_untraced(
    gateway_and_fake: tuple[GatewayFactory, FakeUpstream],
) -> None:
    start, _ = gateway_and_fake
    gw = start()
    response = httpx.get(gw.url + "/nope")
    assert response.status_code == 404
    assert response.text == "404 page not found\n"
    assert response.headers["x-ongoingai-correlation-id"].startswith("corr-")
    response = httpx.get(gw.url + "/openaiish/v1")
    assert response.status_code == 404
    assert gw.sink.records == []


@pytest.fixture
def gateway_and_fake(
    start_gateway: GatewayFactory, fake: FakeUpstream
) -> tuple[GatewayFactory, FakeUpstream]:
    return start_gateway, fake


def test_full_trace_queue_never_affects_the_client(
    start_gateway: GatewayFactory, fake: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    gw = start_gateway(sink_capacity=0)
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    response = post(gw.url)
    assert response.status_code == 200
    assert response.content == wire.CHAT_COMPLETION
    deadline = time.monotonic() + 5
    while gw.sink.dropped == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gw.sink.dropped == 1
    drops = [r for r in caplog.records if r.getMessage() == "trace queue is full; dropping trace"]
    assert drops and drops[0].status == 200  # type: ignore[attr-defined]
