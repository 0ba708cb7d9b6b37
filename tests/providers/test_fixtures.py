"""The wire fixtures are faithful: the official SDKs' own response and stream-event types accept them.

The fake upstream replays these files to the SDKs in the end-to-end tests, so a fixture that drifts from
the real API shape would make those tests pass against a format no provider sends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from openai.types import Completion, CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import BaseModel, TypeAdapter

from ongoingai.providers.sse import DONE, parse_sse_events
from tests.fakes.upstream import FIXTURES

BODY_TYPES: dict[str, type[BaseModel]] = {
    "openai/chat_completion.json": ChatCompletion,
    "openai/chat_completion_tool_call.json": ChatCompletion,
    "openai/chat_completion_reasoning.json": ChatCompletion,
    "openai/completion.json": Completion,
    "openai/embeddings.json": CreateEmbeddingResponse,
    "openai/responses.json": Response,
    "anthropic/message.json": Message,
    "anthropic/message_cached.json": Message,
    "anthropic/message_tool_use.json": Message,
}

EVENT_TYPES: dict[str, TypeAdapter[Any]] = {
    "openai/chat_completion_stream.sse": TypeAdapter(ChatCompletionChunk),
    "openai/chat_completion_stream_no_usage.sse": TypeAdapter(ChatCompletionChunk),
    "openai/chat_completion_tool_call_stream.sse": TypeAdapter(ChatCompletionChunk),
    "openai/responses_stream.sse": TypeAdapter(ResponseStreamEvent),
    "anthropic/message_stream.sse": TypeAdapter(RawMessageStreamEvent),
    "anthropic/message_stream_tool_use.sse": TypeAdapter(RawMessageStreamEvent),
    "anthropic/message_stream_thinking.sse": TypeAdapter(RawMessageStreamEvent),
}


def relative(path: Path) -> str:
    return path.relative_to(FIXTURES).as_posix()


def test_every_fixture_is_checked() -> None:
    assert {relative(p) for p in FIXTURES.glob("*/*") if p.suffix in {".json", ".sse"}} == set(BODY_TYPES) | set(
        EVENT_TYPES
    )


@pytest.mark.parametrize("name", sorted(BODY_TYPES))
def test_body_matches_the_sdk_type(name: str) -> None:
    BODY_TYPES[name].model_validate(orjson.loads((FIXTURES / name).read_bytes()))


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_stream_events_match_the_sdk_types(name: str) -> None:
    body = (FIXTURES / name).read_bytes()
    assert body.endswith(b"\n\n")
    events = parse_sse_events(body)
    assert events
    for event in events:
        if event.data == DONE:
            assert name.startswith("openai/chat_")  # chat streams end with `data: [DONE]`, others never send it
            continue
        payload = orjson.loads(event.data)
        if event.event:  # Anthropic and Responses API streams name each event after its payload's type
            assert payload["type"] == event.event
        if payload.get("type") == "ping":  # Anthropic keep-alive: not part of the SDK's event union
            continue
        EVENT_TYPES[name].validate_python(payload)


@pytest.mark.parametrize(
    ("name", "last"),
    [
        ("openai/chat_completion_stream.sse", DONE),
        ("openai/responses_stream.sse", "response.completed"),
        ("anthropic/message_stream.sse", "message_stop"),
    ],
    ids=["chat-ends-with-done", "responses-ends-completed", "anthropic-ends-message-stop"],
)
def test_streams_end_the_way_the_api_ends_them(name: str, last: str) -> None:
    final = parse_sse_events((FIXTURES / name).read_bytes())[-1]
    assert last in (final.event, final.data)
