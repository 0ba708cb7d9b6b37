"""The official `anthropic` SDK through the gateway: messages, streaming, tool use, errors."""

from __future__ import annotations

import hashlib

import anthropic
import pytest

from tests.e2e import wire
from tests.e2e.conftest import ANTHROPIC_KEY, RunningGateway
from tests.fakes.sdk import anthropic_client
from tests.fakes.upstream import FakeUpstream, Reply

pytestmark = pytest.mark.e2e


def client(gw: RunningGateway) -> anthropic.Anthropic:
    return anthropic_client(gw.anthropic_base, ANTHROPIC_KEY)


def test_message_round_trip(gateway: RunningGateway, fake: FakeUpstream) -> None:
    fake.script("/v1/messages", Reply.json(wire.ANTHROPIC_MESSAGE))
    raw = client(gateway).messages.with_raw_response.create(
        model="claude-sonnet-4-20250514", max_tokens=1024, messages=[{"role": "user", "content": "Hello"}]
    )
    message = raw.parse()
    assert message.content[0].text == "Hi! My name is Claude."  # type: ignore[union-attr]
    assert raw.http_response.content == wire.ANTHROPIC_MESSAGE
    received = fake.received[0]
    # current SDKs send the key as a bearer token, older ones as X-API-Key: either is passed through
    assert ANTHROPIC_KEY in (received.header("x-api-key"), (received.header("authorization") or "")[7:])
    assert received.header("anthropic-version")
    (trace,) = gateway.sink.wait_for(1)
    assert (trace.provider, trace.model) == ("anthropic", "claude-sonnet-4-20250514")
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (2095, 503, 2598)
    credential_header = "X-Api-Key" if "X-Api-Key" in trace.request_headers else "Authorization"
    assert trace.request_headers[credential_header] == ["[REDACTED]"]
    assert trace.api_key_hash == hashlib.sha256(ANTHROPIC_KEY.encode()).hexdigest()
    assert trace.metadata["cost_status"] == "priced"


def test_streaming_message(gateway: RunningGateway, fake: FakeUpstream) -> None:
    fake.script("/v1/messages", Reply.sse(wire.anthropic_stream(["Hello", " world", "!"]), pause=0.01))
    with client(gateway).messages.stream(
        model="claude-sonnet-4-6", max_tokens=64, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
    assert text == "Hello world!"
    (trace,) = gateway.sink.wait_for(1)
    assert trace.metadata["streaming"] is True
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (25, 15, 40)
    assert trace.model == "claude-sonnet-4-6"
    assert trace.time_to_first_token_us > 0


def test_tool_use_counts_cache_reads_as_input(gateway: RunningGateway, fake: FakeUpstream) -> None:
    fake.script("/v1/messages", Reply.json(wire.ANTHROPIC_TOOL_USE))
    message = client(gateway).messages.create(
        model="claude-3-5-haiku-latest",
        max_tokens=256,
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    assert message.stop_reason == "tool_use"
    (trace,) = gateway.sink.wait_for(1)
    # DEVIATIONS: input counts every prompt-side token, cache reads included
    assert (trace.input_tokens, trace.output_tokens) == (520, 55)
    assert trace.metadata["cached_input_tokens"] == 100


def test_overloaded_passes_through(gateway: RunningGateway, fake: FakeUpstream) -> None:
    fake.script("/v1/messages", Reply.json(wire.ANTHROPIC_OVERLOADED, status=529))
    with pytest.raises(anthropic.APIStatusError) as info:
        client(gateway).messages.create(
            model="claude-sonnet-4-6", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.status_code == 529
    (trace,) = gateway.sink.wait_for(1)
    assert trace.response_status == 529
