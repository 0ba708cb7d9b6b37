"""The wire fixtures are faithful: the official SDKs' own response and stream-event types accept them.

The fake upstream replays these files to the SDKs in the end-to-end tests, so a fixture that drifts from
the real API shape would make those tests pass against a format no provider sends. Importing the SDKs
takes seconds, so these checks run with the e2e suite (`-m e2e`) and import the SDKs only when they run.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import TypeAdapter

from ongoingai.providers.sse import DONE, parse_sse_events
from tests.fakes.upstream import FIXTURES

pytestmark = pytest.mark.e2e

BODY_TYPES = {
    "openai/chat_completion.json": "openai.types.chat:ChatCompletion",
    "openai/chat_completion_tool_call.json": "openai.types.chat:ChatCompletion",
    "openai/chat_completion_reasoning.json": "openai.types.chat:ChatCompletion",
    "openai/completion.json": "openai.types:Completion",
    "openai/embeddings.json": "openai.types:CreateEmbeddingResponse",
    "openai/responses.json": "openai.types.responses:Response",
    "anthropic/message.json": "anthropic.types:Message",
    "anthropic/message_cached.json": "anthropic.types:Message",
    "anthropic/message_tool_use.json": "anthropic.types:Message",
}

EVENT_TYPES = {
    "openai/chat_completion_stream.sse": "openai.types.chat:ChatCompletionChunk",
    "openai/chat_completion_stream_no_usage.sse": "openai.types.chat:ChatCompletionChunk",
    "openai/chat_completion_tool_call_stream.sse": "openai.types.chat:ChatCompletionChunk",
    "openai/responses_stream.sse": "openai.types.responses:ResponseStreamEvent",
    "anthropic/message_stream.sse": "anthropic.types:RawMessageStreamEvent",
    "anthropic/message_stream_tool_use.sse": "anthropic.types:RawMessageStreamEvent",
    "anthropic/message_stream_thinking.sse": "anthropic.types:RawMessageStreamEvent",
}


def sdk_type(dotted: str) -> TypeAdapter[Any]:
    module, name = dotted.split(":")
    return TypeAdapter(getattr(importlib.import_module(module), name))


def relative(path: Path) -> str:
    return path.relative_to(FIXTURES).as_posix()


def test_every_fixture_is_checked() -> None:
    files = {relative(p) for p in FIXTURES.glob("*/*") if p.suffix in {".json", ".sse"}}
    assert files == BODY_TYPES.keys() | EVENT_TYPES.keys()


@pytest.mark.parametrize("name", sorted(BODY_TYPES))
def test_body_matches_the_sdk_type(name: str) -> None:
    sdk_type(BODY_TYPES[name]).validate_python(orjson.loads((FIXTURES / name).read_bytes()))


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_stream_events_match_the_sdk_types(name: str) -> None:
    body = (FIXTURES / name).read_bytes()
    assert body.endswith(b"\n\n")
    events = parse_sse_events(body)
    adapter = sdk_type(EVENT_TYPES[name])
    assert events
    for event in events:
        if event.data == DONE:
            # Chat streams end with `data: [DONE]`; the other streams never send it.
            assert name.startswith("openai/chat_")
            continue
        payload = orjson.loads(event.data)
        if event.event:  # Anthropic and Responses API streams name each event after its payload's type
            assert payload["type"] == event.event
        if payload.get("type") == "ping":  # Anthropic keep-alive: not part of the SDK's event union
            continue
        adapter.validate_python(payload)


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
