"""The official `openai` SDK through the gateway: results, bytes on both sides, and the stored trace."""

from __future__ import annotations

import gzip

import openai
import orjson
import pytest

from tests.e2e import wire
from tests.e2e.conftest import PROVIDER_KEY, RunningGateway
from tests.fakes.sdk import openai_client
from tests.fakes.upstream import FakeUpstream, Reply

pytestmark = pytest.mark.e2e


def client(gw: RunningGateway, **kw: object) -> openai.OpenAI:
    return openai_client(gw.openai_base, PROVIDER_KEY, **kw)


def test_chat_completion_round_trip_is_byte_identical(gateway: RunningGateway, fake: FakeUpstream) -> None:
    fake.script("/v1/chat/completions", Reply.json(wire.CHAT_COMPLETION))
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hello"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "Hello! How can I help?"
    assert raw.http_response.content == wire.CHAT_COMPLETION
    assert raw.headers["x-ongoingai-correlation-id"].startswith("corr-")

    received = fake.received[0]
    assert received.path == "/v1/chat/completions"
    assert orjson.loads(received.body)["model"] == "gpt-4o"
    assert received.header("authorization") == f"Bearer {PROVIDER_KEY}"
    assert received.header("x-ongoingai-correlation-id") == raw.headers["x-ongoingai-correlation-id"]
    assert received.header("x-forwarded-for") == "127.0.0.1"
    assert received.header("host") == fake_host(gateway)

    (trace,) = gateway.sink.wait_for(1)
    assert (trace.provider, trace.model, trace.response_status) == ("openai", "gpt-4o", 200)
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (19, 10, 29)
    assert trace.request_path == "/openai/v1/chat/completions"
    assert trace.metadata["cost_status"] == "priced"
    assert trace.estimated_cost_usd > 0
    assert trace.metadata["streaming"] is False
    assert trace.time_to_first_token_us == 0
    assert trace.request_headers["Authorization"] == ["[REDACTED]"]
    assert trace.metadata["api_key_last4"] == PROVIDER_KEY[-4:]
    assert trace.metadata["correlation_id"] == raw.headers["x-ongoingai-correlation-id"]


def fake_host(gw: RunningGateway) -> str:
    upstream = gw.app.settings.providers.openai.upstream
    return upstream.split("://", 1)[1]


def test_request_body_is_forwarded_byte_identical(gateway: RunningGateway, fake: FakeUpstream) -> None:
    fake.script("/v1/chat/completions", Reply.json(wire.CHAT_COMPLETION))
    body = b'{"model": "gpt-4o",   "messages": [{"role":"user","content":"caf\\u00e9 \xe2\x98\x95"}]}'
    import httpx

    response = httpx.post(
        gateway.openai_base + "/chat/completions?api-version=1",
        content=body,
        headers={
            "authorization": f"Bearer {PROVIDER_KEY}",
            "content-type": "application/json",
            "connection": "keep-alive, x-drop-me",
            "x-drop-me": "1",
            "keep-alive": "timeout=5",
            "x-ongoingai-gateway-key": "gwk_should_never_leave",
            "x-forwarded-for": "10.1.2.3",
            "x-request-id": "client-req-42",
        },
    )
    assert response.status_code == 200
    received = fake.received[0]
    assert received.body == body
    assert received.query == "api-version=1"
    names = {k.lower() for k, _ in received.headers}
    assert not names & {"x-drop-me", "keep-alive", "x-ongoingai-gateway-key"}
    assert received.header("x-forwarded-for") == "10.1.2.3, 127.0.0.1"
    assert received.header("x-ongoingai-correlation-id") == "client-req-42"
    assert response.headers["x-ongoingai-correlation-id"] == "client-req-42"


def test_streaming_chat_passes_every_event_and_records_usage(
    gateway: RunningGateway, fake: FakeUpstream
) -> None:
    body = wire.chat_stream(["Hel", "lo", " there"])
    fake.script("/v1/chat/completions", Reply.sse(body, pause=0.02))
    stream = client(gateway).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Hello there"
    (trace,) = gateway.sink.wait_for(1)
    assert trace.metadata["streaming"] is True
    # one client write per upstream write: 1 role chunk + 3 words + finish + usage + [DONE]
    assert trace.metadata["stream_chunks"] == 7
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (12, 3, 15)
    assert trace.time_to_first_token_us > 0
    assert trace.time_to_first_token_ms == -(-trace.time_to_first_token_us // 1000)
    assert trace.latency_ms >= trace.time_to_first_token_ms - 1


def test_streamed_bytes_reach_the_client_unchanged(gateway: RunningGateway, fake: FakeUpstream) -> None:
    body = wire.chat_stream(["a", "b"])
    fake.script("/v1/chat/completions", Reply.sse(body))
    import httpx

    with httpx.stream(
        "POST",
        gateway.openai_base + "/chat/completions",
        json={"model": "gpt-4o-mini", "stream": True, "messages": []},
        headers={"authorization": f"Bearer {PROVIDER_KEY}"},
    ) as response:
        received = b"".join(response.iter_raw())
    assert received == body
    assert response.headers["content-type"].startswith("text/event-stream")


def test_tool_call_completion(gateway: RunningGateway, fake: FakeUpstream) -> None:
    fake.script("/v1/chat/completions", Reply.json(wire.CHAT_TOOL_CALL))
    completion = client(gateway).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
                },
            }
        ],
    )
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    (trace,) = gateway.sink.wait_for(1)
    assert (trace.model, trace.total_tokens) == ("gpt-4o-mini", 99)


def test_embeddings(gateway: RunningGateway, fake: FakeUpstream) -> None:
    fake.script("/v1/embeddings", Reply.json(wire.EMBEDDINGS))
    result = client(gateway).embeddings.create(
        model="text-embedding-3-small", input="hello", encoding_format="float"
    )
    assert len(result.data[0].embedding) == 3
    (trace,) = gateway.sink.wait_for(1)
    assert (trace.model, trace.input_tokens, trace.output_tokens, trace.total_tokens) == (
        "text-embedding-3-small",
        8,
        0,
        8,
    )


def test_responses_api(gateway: RunningGateway, fake: FakeUpstream) -> None:
    fake.script("/v1/responses", Reply.json(wire.RESPONSE))
    response = client(gateway).responses.create(model="gpt-4.1", input="Tell me a story")
    assert response.output_text == "In a peaceful grove."
    (trace,) = gateway.sink.wait_for(1)
    assert (trace.model, trace.input_tokens, trace.output_tokens, trace.total_tokens) == (
        "gpt-4.1",
        36,
        87,
        123,
    )


def test_responses_api_streaming(gateway: RunningGateway, fake: FakeUpstream) -> None:
    fake.script("/v1/responses", Reply.sse(wire.response_stream()))
    events = list(client(gateway).responses.create(model="gpt-4.1", input="Tell me", stream=True))
    assert events[-1].type == "response.completed"
    (trace,) = gateway.sink.wait_for(1)
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (36, 87, 123)
    assert trace.metadata["streaming"] is True


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (429, wire.OPENAI_RATE_LIMIT, openai.RateLimitError),
        (500, wire.OPENAI_SERVER_ERROR, openai.InternalServerError),
    ],
    ids=["429", "500"],
)
def test_upstream_errors_pass_through(
    gateway: RunningGateway, fake: FakeUpstream, status: int, body: bytes, error: type[Exception]
) -> None:
    fake.script(
        "/v1/chat/completions",
        Reply.json(body, status=status, headers=[("content-type", "application/json"), ("retry-after", "7")]),
    )
    with pytest.raises(error) as info:
        client(gateway).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert info.value.response.content == body  # type: ignore[attr-defined]
    assert info.value.response.headers["retry-after"] == "7"  # type: ignore[attr-defined]
    (trace,) = gateway.sink.wait_for(1)
    assert trace.response_status == status
    assert "failure_class" not in trace.metadata


def test_gzip_response_reaches_client_compressed_and_is_parsed(
    gateway: RunningGateway, fake: FakeUpstream
) -> None:
    compressed = gzip.compress(wire.CHAT_COMPLETION)
    fake.script(
        "/v1/chat/completions",
        Reply.json(compressed, headers=[("content-type", "application/json"), ("content-encoding", "gzip")]),
    )
    import httpx

    with httpx.stream(
        "POST",
        gateway.openai_base + "/chat/completions",
        json={"model": "gpt-4o", "messages": []},
        headers={"accept-encoding": "gzip"},
    ) as response:
        raw = b"".join(response.iter_raw())
    assert raw == compressed
    assert fake.received[0].header("accept-encoding") == "gzip"
    (trace,) = gateway.sink.wait_for(1)
    assert trace.total_tokens == 29


def test_client_without_accept_encoding_gets_no_added_one(
    gateway: RunningGateway, fake: FakeUpstream
) -> None:
    fake.script("/v1/chat/completions", Reply.json(wire.CHAT_COMPLETION))
    import socket

    with socket.create_connection(("127.0.0.1", int(gateway.url.rsplit(":", 1)[1]))) as s:
        s.sendall(
            b"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
        )
        while s.recv(65536):
            pass
    names = {k.lower() for k, _ in fake.received[0].headers}
    assert not names & {"accept-encoding", "user-agent", "accept", "content-type"}


def test_lineage_headers_are_forwarded_and_stored(gateway: RunningGateway, fake: FakeUpstream) -> None:
    fake.script("/v1/chat/completions", Reply.json(wire.CHAT_COMPLETION))
    client(gateway).chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "x"}],
        extra_headers={
            "X-OngoingAI-Trace-Group-ID": "group-1",
            "X-OngoingAI-Thread-ID": "thread-1",
            "X-OngoingAI-Run-ID": "run-1",
            "X-OngoingAI-Parent-Checkpoint-ID": "abc",
            "X-OngoingAI-Checkpoint-Seq": "3",
        },
    )
    assert fake.received[0].header("x-ongoingai-thread-id") == "thread-1"
    (trace,) = gateway.sink.wait_for(1)
    assert trace.trace_group_id == "group-1"
    assert trace.metadata["lineage_group_id"] == "group-1"
    assert trace.metadata["lineage_thread_id"] == "thread-1"
    assert trace.metadata["lineage_run_id"] == "run-1"
    assert trace.metadata["lineage_parent_checkpoint_id"] == "abc"
    assert trace.metadata["lineage_checkpoint_seq"] == 3
    assert trace.metadata["lineage_checkpoint_id"] == trace.id
