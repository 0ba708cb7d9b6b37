"""Anthropic model and usage extraction (proxy.md §7; DEVIATIONS.md: input counts cache reads and writes)."""

from __future__ import annotations

import pytest

from ongoingai.providers.anthropic import read_usage
from ongoingai.providers.extract import extract_usage
from ongoingai.providers.usage import Usage
from tests.fakes.upstream import FIXTURES

ANTHROPIC = FIXTURES / "anthropic"

FIXTURE_USAGE = [
    ("message.json", Usage("claude-sonnet-4-5-20250929", 12, 16, 28)),
    (
        "message_cached.json",
        Usage(
            "claude-opus-4-1-20250805",
            input_tokens=14 + 1800 + 248,
            output_tokens=187,
            total_tokens=2062 + 187,
            cached_input_tokens=1800,
            cache_creation_input_tokens=248,
        ),
    ),
    ("message_tool_use.json", Usage("claude-haiku-4-5-20251001", 384, 71, 455)),
    ("message_stream.sse", Usage("claude-sonnet-4-20250514", 21, 15, 36)),
    (
        "message_stream_tool_use.sse",
        Usage("claude-sonnet-4-5-20250929", 472 + 2048, 89, 2520 + 89, cached_input_tokens=2048),
    ),
    (
        "message_stream_thinking.sse",
        Usage(
            "claude-opus-4-5-20251101",
            input_tokens=36 + 1210,
            output_tokens=143,
            total_tokens=1246 + 143,
            cache_creation_input_tokens=1210,
            reasoning_tokens=118,
        ),
    ),
]


@pytest.mark.parametrize(("name", "expected"), FIXTURE_USAGE, ids=[name for name, _ in FIXTURE_USAGE])
def test_fixture_usage(name: str, expected: Usage) -> None:
    body = (ANTHROPIC / name).read_bytes()
    assert extract_usage("anthropic", b"", body, streaming=name.endswith(".sse")) == expected


def test_spec_fixture_malformed_payload_and_done() -> None:
    body = (
        b"data: {oops}\n\n"
        b'data: {"type":"message_start","message":{"model":"claude-3-5-haiku-20241022",'
        b'"usage":{"input_tokens":9,"output_tokens":0}}}\n\n'
        b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":6}}\n\n'
        b"data: [DONE]\n\n"
    )
    assert extract_usage("anthropic", b"", body, streaming=True) == Usage(
        "claude-3-5-haiku-20241022", 9, 6, 15
    )


def test_request_model_beats_message_start_model() -> None:
    body = (ANTHROPIC / "message_stream.sse").read_bytes()
    request = b'{"model":"claude-sonnet-4-0","max_tokens":1024,"stream":true,"messages":[]}'
    assert extract_usage("anthropic", request, body, streaming=True).model == "claude-sonnet-4-0"


def test_message_delta_with_output_only_keeps_the_start_input() -> None:
    body = (
        b"event: message_start\n"
        b'data: {"type":"message_start","message":{"model":"m","usage":{"input_tokens":5,'
        b'"cache_read_input_tokens":100,"cache_creation_input_tokens":20,"output_tokens":1}}}\n\n'
        b"event: message_delta\n"
        b'data: {"type":"message_delta","usage":{"output_tokens":30}}\n\n'
    )
    assert extract_usage("anthropic", b"", body, streaming=True) == Usage(
        "m", 125, 30, 155, cached_input_tokens=100, cache_creation_input_tokens=20
    )


def test_truncated_stream_keeps_what_was_seen() -> None:
    body = (ANTHROPIC / "message_stream.sse").read_bytes()
    prefix = body[: body.index(b"event: message_delta")]
    # message_start said input 21 and output 1 so far; the final delta never arrived.
    assert extract_usage("anthropic", b"", prefix, streaming=True) == Usage(
        "claude-sonnet-4-20250514", 21, 1, 22
    )


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"input_tokens": 10, "output_tokens": 3}, Usage(input_tokens=10, output_tokens=3, total_tokens=13)),
        (
            {
                "input_tokens": 10,
                "cache_read_input_tokens": 200,
                "cache_creation_input_tokens": 30,
                "output_tokens": 3,
            },
            Usage(
                input_tokens=240,
                output_tokens=3,
                total_tokens=243,
                cached_input_tokens=200,
                cache_creation_input_tokens=30,
            ),
        ),
        (
            {
                "input_tokens": 10,
                "cache_creation": {"ephemeral_5m_input_tokens": 7, "ephemeral_1h_input_tokens": 5},
                "output_tokens": 3,
            },
            Usage(input_tokens=22, output_tokens=3, total_tokens=25, cache_creation_input_tokens=12),
        ),
        (
            {
                "input_tokens": 10,
                "cache_creation_input_tokens": 12,
                "cache_creation": {"ephemeral_5m_input_tokens": 7, "ephemeral_1h_input_tokens": 5},
                "output_tokens": 3,
            },
            Usage(input_tokens=22, output_tokens=3, total_tokens=25, cache_creation_input_tokens=12),
        ),
        (
            {"input_tokens": 10, "cache_read_input_tokens": None, "output_tokens": 3},
            Usage(input_tokens=10, output_tokens=3, total_tokens=13),
        ),
        (
            {"input_tokens": 4, "output_tokens": 90, "output_tokens_details": {"thinking_tokens": 64}},
            Usage(input_tokens=4, output_tokens=90, total_tokens=94, reasoning_tokens=64),
        ),
        (
            {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
            Usage(input_tokens=9, output_tokens=2, total_tokens=11),
        ),
        ({"output_tokens": 6}, Usage(output_tokens=6, total_tokens=6)),
    ],
    ids=[
        "plain",
        "cache-read-and-write-count-as-input",
        "ttl-breakdown-when-total-absent",
        "total-write-count-wins-over-breakdown",
        "null-cache-field",
        "thinking-tokens",
        "openai-compatible-endpoint-shape",
        "message-delta-output-only",
    ],
)
def test_read_usage(usage: dict[str, object], expected: Usage) -> None:
    assert read_usage(usage) == expected
