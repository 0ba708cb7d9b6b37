"""OpenAI model and usage extraction (proxy.md §7) over real wire-format fixtures."""

from __future__ import annotations

import orjson
import pytest

from ongoingai.providers.extract import extract_usage
from ongoingai.providers.openai import read_usage
from ongoingai.providers.usage import Usage
from tests.fakes.upstream import FIXTURES

OPENAI = FIXTURES / "openai"


def fixture(name: str) -> bytes:
    return (OPENAI / name).read_bytes()


FIXTURE_USAGE = [
    (
        "chat_completion.json",
        Usage("gpt-4o-2024-08-06", 1117, 8, 1125, cached_input_tokens=1024),
    ),
    ("chat_completion_tool_call.json", Usage("gpt-4.1-2025-04-14", 82, 24, 106)),
    (
        "chat_completion_reasoning.json",
        Usage("o4-mini-2025-04-16", 1350, 1186, 2536, cached_input_tokens=1280, reasoning_tokens=1152),
    ),
    ("completion.json", Usage("gpt-3.5-turbo-instruct", 5, 7, 12)),
    ("embeddings.json", Usage("text-embedding-3-small", 8, 0, 8)),
    (
        "responses.json",
        Usage("gpt-5-2025-08-07", 2048, 1109, 3157, cached_input_tokens=1536, reasoning_tokens=1088),
    ),
    ("chat_completion_stream.sse", Usage("gpt-4o-mini-2024-07-18", 19, 15, 34)),
    ("chat_completion_stream_no_usage.sse", Usage("gpt-4.1-nano-2025-04-14")),
    ("chat_completion_tool_call_stream.sse", Usage("gpt-4o-2024-11-20", 81, 15, 96)),
    ("responses_stream.sse", Usage("gpt-4.1-mini-2025-04-14", 37, 11, 48)),
]


@pytest.mark.parametrize(("name", "expected"), FIXTURE_USAGE, ids=[name for name, _ in FIXTURE_USAGE])
def test_fixture_usage_without_request_model(name: str, expected: Usage) -> None:
    body = fixture(name)
    assert extract_usage("openai", b"{}", body, streaming=name.endswith(".sse")) == expected


@pytest.mark.parametrize(
    ("name", "streaming"),
    [("chat_completion.json", False), ("chat_completion_stream.sse", True), ("responses_stream.sse", True)],
    ids=["non-streaming", "chat-stream", "responses-stream"],
)
def test_request_model_comes_first(name: str, streaming: bool) -> None:
    usage = extract_usage(
        "openai", b'{"model": "gpt-4o", "stream": true}', fixture(name), streaming=streaming
    )
    assert usage.model == "gpt-4o"
    assert usage.total_tokens > 0


@pytest.mark.parametrize(
    "request_body",
    [
        b"",
        b"{not json",
        b'{"model": ""}',
        b'{"model": "   "}',
        b'{"model": 42}',
        b"[1]",
        b'--boundary\r\nmodel"',
    ],
    ids=["empty", "invalid-json", "empty-model", "blank-model", "non-string-model", "array", "multipart"],
)
def test_unusable_request_model_falls_back_to_response(request_body: bytes) -> None:
    usage = extract_usage("openai", request_body, fixture("chat_completion.json"), streaming=False)
    assert usage.model == "gpt-4o-2024-08-06"


def test_truncated_response_counts_zero_but_keeps_the_request_model() -> None:
    body = fixture("chat_completion.json")
    usage = extract_usage("openai", b'{"model":"gpt-4o"}', body[: len(body) // 2], streaming=False)
    assert usage == Usage(model="gpt-4o")


@pytest.mark.parametrize(
    ("cut_before", "expected_total"),
    [(b'"choices":[]', 0), (b'"completion_tokens":15', 0), (b"data: [DONE]", 34)],
    ids=["before-usage-chunk", "inside-usage-chunk", "after-usage-chunk"],
)
def test_truncated_stream_counts_only_complete_usage(cut_before: bytes, expected_total: int) -> None:
    body = fixture("chat_completion_stream.sse")
    prefix = body[: body.index(cut_before)]
    usage = extract_usage("openai", b"", prefix, streaming=True)
    assert usage.model == "gpt-4o-mini-2024-07-18"
    assert usage.total_tokens == expected_total


def test_error_body_has_no_usage() -> None:
    body = (
        b'{"error":{"message":"Incorrect API key provided","type":"invalid_request_error",'
        b'"code":"invalid_api_key","param":null}}'
    )
    assert extract_usage("openai", b'{"model":"gpt-4o"}', body, streaming=False) == Usage(model="gpt-4o")


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (
            {"prompt_tokens": 3, "completion_tokens": 4},
            Usage(input_tokens=3, output_tokens=4, total_tokens=7),
        ),
        (
            {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 0},
            Usage(input_tokens=3, output_tokens=4, total_tokens=7),
        ),
        (
            {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 9},
            Usage(input_tokens=3, output_tokens=4, total_tokens=9),
        ),
        ({"input_tokens": 5, "output_tokens": 6}, Usage(input_tokens=5, output_tokens=6, total_tokens=11)),
        (
            {"prompt_tokens": None, "input_tokens": 5, "completion_tokens": "7", "output_tokens": 2},
            Usage(input_tokens=5, output_tokens=2, total_tokens=7),
        ),
        ({"prompt_tokens": True, "completion_tokens": 1}, Usage(output_tokens=1, total_tokens=1)),
        ({"prompt_tokens": 2.9, "completion_tokens": -4}, Usage(input_tokens=2, total_tokens=2)),
        (
            {
                "prompt_tokens": 100,
                "completion_tokens": 50,
                "prompt_tokens_details": None,
                "completion_tokens_details": {"reasoning_tokens": None},
            },
            Usage(input_tokens=100, output_tokens=50, total_tokens=150),
        ),
        (
            {
                "prompt_tokens": 100,
                "completion_tokens": 50,
                "prompt_tokens_details": {"cached_tokens": 40, "cache_write_tokens": 30},
            },
            Usage(
                input_tokens=100,
                output_tokens=50,
                total_tokens=150,
                cached_input_tokens=40,
                cache_creation_input_tokens=30,
            ),
        ),
        (
            {
                "input_tokens": 100,
                "output_tokens": 50,
                "input_tokens_details": {"cached_tokens": 64, "cache_write_tokens": 16},
                "output_tokens_details": {"reasoning_tokens": 32},
            },
            Usage(
                input_tokens=100,
                output_tokens=50,
                total_tokens=150,
                cached_input_tokens=64,
                cache_creation_input_tokens=16,
                reasoning_tokens=32,
            ),
        ),
    ],
    ids=[
        "total-absent",
        "total-zero",
        "total-given",
        "responses-api-names",
        "first-numeric-wins",
        "bool-is-not-a-count",
        "float-truncated-negative-clamped",
        "null-details",
        "chat-cache-breakdown",
        "responses-breakdown",
    ],
)
def test_read_usage(usage: dict[str, object], expected: Usage) -> None:
    assert read_usage(usage) == expected


def test_usage_null_in_every_chunk_until_the_last() -> None:
    chunks = [
        {"model": "gpt-4o-mini", "choices": [{"delta": {"content": "hi"}}], "usage": None},
        {"model": "gpt-4o-mini", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}},
    ]
    body = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    assert extract_usage("openai", b"", body, streaming=True) == Usage("gpt-4o-mini", 3, 1, 4)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'data: {"usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 40}}\n\n'
            b'data: {"usage": {"completion_tokens": 7}}\n\n',
            # Later non-zero counts overwrite: input 10, output 7; the last payload's total is 0 + 7.
            Usage("", 10, 7, 17),
        ),
        (
            b'data: {"usage": {"prompt_tokens": 10, "completion_tokens": 5}}\n\n'
            b'data: {"usage": {"completion_tokens": 7, "total_tokens": 40}}\n\n',
            Usage("", 10, 7, 40),
        ),
        (
            b'data: {"usage": {"prompt_tokens": 10, "completion_tokens": 5}}\n\n'
            b'data: {"usage": {"prompt_tokens": 0, "completion_tokens": 0}}\n\n',
            Usage("", 10, 5, 15),
        ),
    ],
    ids=["sum-beats-last-payload-total", "last-payload-total-beats-sum", "zeros-do-not-overwrite"],
)
def test_stream_merge_rule(body: bytes, expected: Usage) -> None:
    assert extract_usage("openai", b"", body, streaming=True) == expected
