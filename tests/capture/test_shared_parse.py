"""The trace builder parses a captured stream once (providers/sse.py `parse_stream`) and hands the result to
both usage extraction and the storage redactor. Each must come out exactly as when it parsed the stream on
its own: usage as the incremental parser computes it from the stream read in arbitrary chunks, the stored
body, counts, paths and errors as the redactor computes them from the bytes alone.
"""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ongoingai.providers.extract import StreamUsageParser, extract_usage
from ongoingai.providers.sse import parse_sse_payloads, parse_stream
from tests.policy.test_screen import FAST, SETTINGS, TEXT, sse_lines

COUNT = st.integers(min_value=0, max_value=5000)
SEPARATORS = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def chat_chunk(draw: st.DrawFn) -> str:
    chunk: dict[str, object] = {
        "id": "chatcmpl-1",
        "model": draw(st.sampled_from(["gpt-4o-mini", "", " "])),
        "choices": [{"index": 0, "delta": {"content": draw(TEXT)}, "finish_reason": None}],
        "usage": None,
    }
    if draw(st.booleans()):
        chunk["choices"] = []
        chunk["usage"] = {
            "prompt_tokens": draw(COUNT),
            "completion_tokens": draw(COUNT),
            "total_tokens": draw(COUNT),
            "prompt_tokens_details": {"cached_tokens": draw(COUNT)},
        }
    return json.dumps(chunk, ensure_ascii=draw(st.booleans()))


@st.composite
def anthropic_event(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        usage = {"input_tokens": draw(COUNT), "cache_read_input_tokens": draw(COUNT), "output_tokens": 1}
        return json.dumps(
            {"type": "message_start", "message": {"model": "claude-sonnet-4-0", "usage": usage}}
        )
    return json.dumps({"type": "message_delta", "usage": {"output_tokens": draw(COUNT)}})


@st.composite
def event_lines(draw: st.DrawFn) -> list[str]:
    """The lines of one event, without line ends; the caller adds the blank line that ends it."""
    kind = draw(st.integers(min_value=0, max_value=7))
    if kind == 0:
        return ["data: " + draw(chat_chunk())]
    if kind == 1:
        return ["event: message", "data:" + draw(st.sampled_from(["", " ", "  "])) + draw(anthropic_event())]
    if kind == 2:  # one JSON object written over two `data:` lines: joined, it parses whole
        text = draw(chat_chunk())
        cut = draw(st.integers(min_value=0, max_value=len(text)))
        return ["data: " + text[:cut], "data: " + text[cut:]]
    if kind == 3:  # two objects on two `data:` lines of one event: each line is a payload
        return ["data: " + draw(chat_chunk()), "data: " + draw(anthropic_event())]
    if kind == 4:
        return [draw(st.sampled_from([": keep-alive", ":", "id: 7", "retry: 100"]))]
    if kind == 5:
        return ["data: " + draw(st.sampled_from(["[DONE]", "ping", "{not json", "[1]", '"str"', ""]))]
    if kind == 6:  # padding the usage parser trims and the redactor keeps
        return [
            draw(st.sampled_from(["  ", "\t"]))
            + "data: "
            + draw(chat_chunk())
            + draw(st.sampled_from(["", " "]))
        ]
    return [draw(sse_lines())]  # the redaction properties' lines: secrets, odd JSON, channels


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    newline = draw(SEPARATORS)
    events = draw(st.lists(event_lines(), max_size=8))
    text = "".join(newline.join(lines) + newline + newline for lines in events)
    body = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        body = body[: draw(st.integers(min_value=0, max_value=len(body)))]  # a capture cut anywhere
    return body


def usage_read_in_chunks(provider: str, body: bytes, cuts: list[int]) -> object:
    """The separate computation: the incremental parser, fed the stream as the network split it."""
    parser = StreamUsageParser(provider)
    bounds = [0, *sorted(cuts), len(body)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        parser.feed(body[start:end])
    return parser.finish()


@SETTINGS
@given(streams(), st.data(), st.sampled_from(["openai", "anthropic", "mistral"]))
def test_usage_from_the_shared_parse_equals_usage_parsed_alone(
    body: bytes, data: st.DataObject, provider: str
) -> None:
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(body)), max_size=12))
    parsed = parse_stream(body)
    shared = extract_usage(provider, b'{"model":"m"}', body, streaming=True, stream_payloads=parsed.payloads)
    alone = extract_usage(provider, b'{"model":"m"}', body, streaming=True)
    assert shared == alone
    usage = extract_usage(provider, b"", body, streaming=True, stream_payloads=parsed.payloads)
    assert usage == usage_read_in_chunks(provider, body, cuts)


@SETTINGS
@given(streams())
def test_the_shared_objects_are_what_orjson_reads_from_their_text(body: bytes) -> None:
    parsed = parse_stream(body)
    assert parsed.payloads == parse_sse_payloads(body)
    for text, value in parsed.objects.items():
        assert type(value) is dict
        assert orjson.loads(text) == value


@SETTINGS
@given(streams())
def test_stored_stream_from_the_shared_parse_equals_the_stream_redacted_alone(body: bytes) -> None:
    parsed = parse_stream(body)
    truncated = not body.endswith((b"\n\n", b"\r\r"))
    for redactor in FAST:
        shared = redactor.redact_body(
            body, workspace_id="w", stream=True, truncated=truncated, parsed=parsed.objects
        )
        alone = redactor.redact_body(body, workspace_id="w", stream=True, truncated=truncated)
        assert shared == alone
    # Redaction reads the shared objects and never changes them: usage computed afterwards is the same.
    assert parsed.payloads == parse_sse_payloads(body)


@pytest.mark.parametrize(
    "body",
    [
        b'data: {"model":"gpt-4o","usage":{"prompt_tokens":3}}\r\n\r\ndata: [DONE]\r\n\r\n',
        b': ping\n\nevent: x\ndata: {"model":"a",\ndata: "usage":{"prompt_tokens":2}}\n\ndata: hi\n\n',
        b'data: {"usage":{"prompt_tokens":2}}\ndata: {"model":"b"}\n\n',
    ],
    ids=["crlf-and-done", "comment-and-multi-line-object", "two-objects-in-one-event"],
)
def test_the_shared_parse_on_named_shapes(body: bytes) -> None:
    parsed = parse_stream(body)
    assert extract_usage("openai", b"", body, streaming=True, stream_payloads=parsed.payloads) == (
        usage_read_in_chunks("openai", body, list(range(len(body))))
    )
    assert parsed.objects  # each shape has at least one object to share
