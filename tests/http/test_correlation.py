"""Correlation id acceptance and generation (proxy.md §9)."""

from __future__ import annotations

import re

import pytest

from ongoingai.http.correlation import correlation_id_from


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"x-ongoingai-correlation-id", b"abc-1")], "abc-1"),
        ([(b"x-request-id", b"req.2:x_y")], "req.2:x_y"),
        ([(b"x-correlation-id", b"  spaced  ")], "spaced"),
        ([(b"x-request-id", b"r"), (b"x-ongoingai-correlation-id", b"first")], "first"),
        ([(b"x-ongoingai-correlation-id", b"bad value!"), (b"x-request-id", b"good")], "good"),
        ([(b"x-request-id", b"a" * 200)], "a" * 128),
    ],
    ids=["own-header", "request-id", "trimmed", "preference-order", "invalid-skipped", "truncated-128"],
)
def test_accepted_ids(headers: list[tuple[bytes, bytes]], expected: str) -> None:
    assert correlation_id_from(headers) == expected


@pytest.mark.parametrize(
    "value", [b"", b"has space", b"semi;colon", b"\xc3\xa9"], ids=["empty", "space", "semicolon", "non-ascii"]
)
def test_unacceptable_ids_are_replaced(value: bytes) -> None:
    generated = correlation_id_from([(b"x-ongoingai-correlation-id", value)])
    assert re.fullmatch(r"corr-[0-9a-f]{32}", generated)


def test_generated_ids_differ() -> None:
    assert correlation_id_from([]) != correlation_id_from([])
