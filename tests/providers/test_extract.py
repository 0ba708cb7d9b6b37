"""Provider dispatch, model lookup, and the streaming invariant: read boundaries never change usage."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ongoingai.providers.extract import (
    StreamUsageParser,
    extract_usage,
    payload_model,
    payload_usage,
    request_model,
)
from ongoingai.providers.usage import Usage
from tests.fakes.upstream import FIXTURES

STREAMS = sorted(FIXTURES.glob("*/*.sse"))


def provider_of(path: Path) -> str:
    return path.parent.name


def test_every_provider_has_stream_fixtures() -> None:
    assert {provider_of(p) for p in STREAMS} == {"openai", "anthropic"}
    assert len(STREAMS) >= 6


def parse_in_pieces(provider: str, body: bytes, cuts: list[int]) -> Usage:
    parser = StreamUsageParser(provider)
    bounds = [0, *sorted(min(c, len(body)) for c in cuts), len(body)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        parser.feed(body[start:end])
    return parser.finish()


@pytest.mark.parametrize("path", STREAMS, ids=[f"{provider_of(p)}/{p.name}" for p in STREAMS])
@settings(max_examples=40, derandomize=True, database=None, deadline=None)
@given(data=st.data(), newline=st.sampled_from([b"\n", b"\r\n", b"\r"]))
def test_usage_does_not_depend_on_read_boundaries(path: Path, data: st.DataObject, newline: bytes) -> None:
    body = path.read_bytes()
    expected = extract_usage(provider_of(path), b"", body, streaming=True)
    converted = body.replace(b"\n", newline)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(converted)), max_size=30))
    assert parse_in_pieces(provider_of(path), converted, cuts) == expected
    assert expected.total_tokens > 0 or "no_usage" in path.name


@pytest.mark.parametrize("path", STREAMS, ids=[f"{provider_of(p)}/{p.name}" for p in STREAMS])
def test_byte_by_byte_stream_matches_whole(path: Path) -> None:
    body = path.read_bytes()
    assert parse_in_pieces(provider_of(path), body, list(range(len(body)))) == extract_usage(
        provider_of(path), b"", body, streaming=True
    )


ANTHROPIC_SHAPED = (
    b'{"model":"claude-x","usage":{"input_tokens":10,"cache_read_input_tokens":90,"output_tokens":5}}'
)


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("anthropic", Usage("claude-x", 100, 5, 105, cached_input_tokens=90)),
        ("Anthropic ", Usage("claude-x", 100, 5, 105, cached_input_tokens=90)),
        ("openai", Usage("claude-x", 10, 5, 15)),
        ("mistral", Usage("claude-x", 10, 5, 15)),
    ],
    ids=["anthropic", "provider-name-normalised", "openai", "other-routes-use-openai-rules"],
)
def test_provider_selects_the_usage_reader(provider: str, expected: Usage) -> None:
    assert extract_usage(provider, b"", ANTHROPIC_SHAPED, streaming=False) == expected


@pytest.mark.parametrize(
    ("payload", "model"),
    [
        ({"model": "a", "message": {"model": "b"}}, "a"),
        ({"message": {"model": "b"}}, "b"),
        ({"response": {"model": "c"}}, "c"),
        ({"model": "", "message": {"model": "b"}}, "b"),
        ({"model": None, "response": {"model": "c"}}, "c"),
        ({"model": ["a"]}, ""),
        ({"message": "text"}, ""),
        ({}, ""),
    ],
    ids=[
        "top-level",
        "message",
        "response",
        "empty-skipped",
        "null-skipped",
        "non-string",
        "non-object",
        "none",
    ],
)
def test_payload_model(payload: dict[str, object], model: str) -> None:
    assert payload_model(payload) == model


@pytest.mark.parametrize(
    ("payload", "usage"),
    [
        ({"usage": {"a": 1}, "message": {"usage": {"b": 2}}}, {"a": 1}),
        ({"usage": None, "message": {"usage": {"b": 2}}}, {"b": 2}),
        ({"response": {"usage": {"c": 3}}}, {"c": 3}),
        ({"response": {"usage": None}}, None),
        ({"usage": 5}, None),
    ],
    ids=["top-level", "message", "response", "null", "not-an-object"],
)
def test_payload_usage(payload: dict[str, object], usage: dict[str, object] | None) -> None:
    assert payload_usage(payload) == usage


@pytest.mark.parametrize(
    ("body", "model"),
    [
        (b'{"model":"gpt-4o","messages":[]}', "gpt-4o"),
        (b'  {"model": "claude-sonnet-4-5"}  ', "claude-sonnet-4-5"),
        (b'{"model":"gpt-4o","messages":[{"role":"user","content":"tru', ""),
        (b'{"messages":[]}', ""),
    ],
    ids=["json", "whitespace-around", "truncated", "absent"],
)
def test_request_model(body: bytes, model: str) -> None:
    assert request_model(body) == model


def test_streaming_body_that_is_not_sse_counts_zero() -> None:
    body = (FIXTURES / "openai" / "chat_completion.json").read_bytes()
    assert extract_usage("openai", b"", body, streaming=True) == Usage()
