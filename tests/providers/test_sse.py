"""SSE framing and payloads (proxy.md §7), fed whole or in chunks split at any byte."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ongoingai.providers.sse import (
    SseEvent,
    SsePayloads,
    SseSplitter,
    parse_sse_events,
    parse_sse_payloads,
    payloads_of,
)


@pytest.mark.parametrize(
    ("body", "events"),
    [
        (b"data: a\n\ndata: b\n\n", [("", "a"), ("", "b")]),
        (b"data: a\r\n\r\ndata: b\r\n\r\n", [("", "a"), ("", "b")]),
        (b"data: a\r\rdata: b\r\r", [("", "a"), ("", "b")]),
        (b": keep-alive\n\ndata: a\n: heartbeat\n\n", [("", "a")]),
        (b"event: message_start\ndata: {}\n\n", [("message_start", "{}")]),
        (b"event: ping\n\ndata: x\n\n", [("", "x")]),
        (b"data: line one\ndata: line two\n\n", [("", "line one\nline two")]),
        (b"data:{}\n\n", [("", "{}")]),
        (b"  data:   padded   \n   \n", [("", "padded")]),
        (b"data\ndata: x\n\n", [("", "\nx")]),
        (b"id: 7\nretry: 1000\nfoo: bar\ndata: x\n\n", [("", "x")]),
        (b"data: one\n\ndata: tail", [("", "one"), ("", "tail")]),
        (b"data: one\n\ndata: tail\n", [("", "one"), ("", "tail")]),
        (b"", []),
        (b"\n\n\n", []),
    ],
    ids=[
        "lf",
        "crlf",
        "cr",
        "comments-are-skipped",
        "event-name",
        "event-without-data-is-not-dispatched",
        "multi-line-data-joined",
        "no-space-after-colon",
        "lines-and-values-trimmed",
        "bare-data-field-is-empty-line",
        "other-fields-ignored",
        "unterminated-last-line-counts-at-end",
        "last-event-without-blank-line",
        "empty",
        "blank-lines-only",
    ],
)
def test_events(body: bytes, events: list[tuple[str, str]]) -> None:
    assert parse_sse_events(body) == [SseEvent(name, data) for name, data in events]


@pytest.mark.parametrize(
    ("data", "payloads"),
    [
        ('{"a": 1}', [{"a": 1}]),
        ("[DONE]", []),
        ("  [DONE]  ", []),
        ("", []),
        ("{oops}", []),
        ("hello", []),
        ("[1, 2]", []),
        ('"text"', []),
        ('{"a":\n1}', [{"a": 1}]),
        ('{"a": 1}\n{"b": 2}', [{"a": 1}, {"b": 2}]),
        ('{"a": 1}\n[DONE]\n{oops}', [{"a": 1}]),
        ('{"a": "\ufffd"}', [{"a": "\ufffd"}]),
    ],
    ids=[
        "object",
        "done",
        "done-padded",
        "empty",
        "malformed-json",
        "not-json",
        "array-is-not-an-object",
        "string-is-not-an-object",
        "object-over-two-data-lines",
        "one-object-per-data-line",
        "per-line-skips-done-and-junk",
        "replacement-char",
    ],
)
def test_payloads_of(data: str, payloads: list[dict[str, object]]) -> None:
    assert payloads_of(SseEvent("", data)) == payloads


def test_invalid_utf8_payload_is_ignored_not_fatal() -> None:
    assert parse_sse_payloads(b'data: {"a": "\xff\xfe"}\n\ndata: {"b": 1}\n\n') == [
        {"a": "\ufffd\ufffd"},
        {"b": 1},
    ]


def test_crlf_split_between_reads_is_one_line_end() -> None:
    # Were the LF opening the second read taken as a blank line, the event would end after `{"a":`.
    splitter = SsePayloads()
    assert splitter.feed(b'data: {"a":\r') == []
    assert splitter.feed(b"\ndata: 1}\r") == []
    assert splitter.feed(b"\n\r\n") == [{"a": 1}]
    assert splitter.finish() == []


def test_lone_cr_then_data_in_next_read_is_not_swallowed() -> None:
    splitter = SseSplitter()
    assert splitter.feed(b"data: a\r") == []
    assert splitter.feed(b"\rdata: b\r\r") == [SseEvent("", "a"), SseEvent("", "b")]


def test_events_are_returned_as_soon_as_their_blank_line_arrives() -> None:
    splitter = SseSplitter()
    assert splitter.feed(b"event: x\ndata: 1") == []
    assert splitter.feed(b"\n") == []
    assert splitter.feed(b"\n") == [SseEvent("x", "1")]
    assert splitter.finish() == []


STREAM = (
    b": stream opened\n"
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"model":"m","usage":{"input_tokens":9}}}\n\n'
    b"data: {oops}\n\n"
    b'data: {"x":\n'
    b"data: [1, 2]}\n\n"
    b"event: ping\n"
    b'data: {"type": "ping"}\n\n'
    b'data: {"type":"message_delta","usage":{"output_tokens":6}}\n\n'
    b"data: [DONE]\n\n"
)


def feed_in_pieces(body: bytes, cuts: list[int]) -> list[SseEvent]:
    splitter = SseSplitter()
    events: list[SseEvent] = []
    bounds = [0, *sorted(cuts), len(body)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        events += splitter.feed(body[start:end])
    return events + splitter.finish()


@settings(max_examples=200, derandomize=True, database=None)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=40),
    newline=st.sampled_from([b"\n", b"\r\n", b"\r"]),
)
def test_split_anywhere_gives_the_same_events(cuts: list[int], newline: bytes) -> None:
    body = STREAM.replace(b"\n", newline)
    cuts = [min(c, len(body)) for c in cuts]
    assert feed_in_pieces(body, cuts) == parse_sse_events(STREAM)


def test_byte_by_byte_payloads() -> None:
    stream = SsePayloads()
    found = [p for i in range(len(STREAM)) for p in stream.feed(STREAM[i : i + 1])] + stream.finish()
    assert found == [
        {"type": "message_start", "message": {"model": "m", "usage": {"input_tokens": 9}}},
        {"x": [1, 2]},
        {"type": "ping"},
        {"type": "message_delta", "usage": {"output_tokens": 6}},
    ]
    assert found == parse_sse_payloads(STREAM)
