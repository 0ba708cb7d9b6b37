"""Decoding the captured copy of gzip / deflate / br bodies: bounded, prefix-tolerant, corruption-tolerant."""

from __future__ import annotations

import gzip
import os
import random
import zlib
from collections.abc import Callable

import brotli
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ongoingai.providers.decode import BodyDecoder, decode_body
from ongoingai.providers.extract import extract_usage
from tests.fakes.upstream import FIXTURES

BODY = (FIXTURES / "openai" / "chat_completion_stream.sse").read_bytes() * 8  # ~48 KiB, several slices
LIMIT = 1 << 20


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "deflate-raw": raw_deflate,
    "br": brotli.compress,
}


COMPRESSED = {name: encode(BODY) for name, encode in ENCODERS.items()}


def header_for(name: str) -> str:
    return "deflate" if name == "deflate-raw" else name


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_whole_body_decodes_exactly(name: str) -> None:
    assert decode_body(COMPRESSED[name], header_for(name), LIMIT) == (BODY, False)


@pytest.mark.parametrize(
    "header",
    ["", "identity", " GZIP ", "Br", "identity, gzip"],
    ids=["none", "identity", "case-space", "br-case", "identity-ignored"],
)
def test_header_is_trimmed_and_case_insensitive(header: str) -> None:
    coding = header.strip().lower().replace("identity", "").strip(", ")
    assert decode_body(COMPRESSED[coding] if coding else BODY, header, LIMIT) == (BODY, False)


@pytest.mark.parametrize("name", sorted(ENCODERS))
@pytest.mark.parametrize("keep", [0.25, 0.5, 0.9], ids=["quarter", "half", "most"])
def test_truncated_prefix_yields_a_prefix_of_the_body(name: str, keep: float) -> None:
    data = COMPRESSED[name]
    decoded, truncated = decode_body(data[: int(len(data) * keep)], header_for(name), LIMIT)
    assert truncated
    assert BODY.startswith(decoded)
    assert len(decoded) > 0 or keep < 0.5


@pytest.mark.parametrize("name", [*sorted(ENCODERS), "identity"])
def test_output_stops_at_max_size(name: str) -> None:
    data = COMPRESSED[name] if name != "identity" else BODY
    assert decode_body(data, header_for(name), 1000) == (BODY[:1000], True)


def test_exact_max_size_is_not_truncated() -> None:
    assert decode_body(COMPRESSED["gzip"], "gzip", len(BODY)) == (BODY, False)


BOMBS = {
    # 32 MiB of zeros compress to a few KiB or less.
    "gzip": gzip.compress(b"\0" * (32 << 20), compresslevel=1),
    "deflate": zlib.compress(b"\0" * (32 << 20), 1),
    "br": brotli.compress(b"\0" * (32 << 20), quality=1),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_decompression_bomb_is_bounded(name: str) -> None:
    bomb = BOMBS[name]
    assert len(bomb) < 200_000
    decoded, truncated = decode_body(bomb, name, 4096)
    assert (len(decoded), truncated) == (4096, True)


NOISE = random.Random(7).randbytes(150_000).hex().encode()  # compresses ~2:1, so damage lands mid-output


@pytest.mark.parametrize("name", ["gzip", "deflate", "br"])
def test_corrupt_data_keeps_what_decoded_before_the_damage(name: str) -> None:
    data = bytearray(ENCODERS[name](NOISE))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    decoded, truncated = decode_body(bytes(data), name, LIMIT)
    # Everything before the damaged slice is intact; past it a decoder may emit junk until it notices.
    intact = len(os.path.commonprefix([decoded, NOISE]))
    assert intact >= len(NOISE) * 0.4
    if name != "br":  # gzip and zlib carry checksums; brotli has none and may not notice at all
        assert truncated


def test_garbage_labelled_gzip() -> None:
    assert decode_body(b"this is not gzip at all", "gzip", LIMIT) == (b"", True)


def test_gzip_with_several_members() -> None:
    data = gzip.compress(BODY[:1000]) + gzip.compress(BODY[1000:])
    assert decode_body(data, "gzip", LIMIT) == (BODY, False)


@pytest.mark.parametrize(
    ("header", "data", "expected"),
    [
        ("zstd", b"\x28\xb5\x2f\xfd compressed", (b"", True)),
        ("gzip, br", brotli.compress(gzip.compress(BODY)), (b"", True)),
        ("zstd", b"", (b"", False)),
        ("gzip", b"", (b"", False)),
        ("deflate", b"x", (b"", True)),
    ],
    ids=["unknown-coding", "stacked-codings", "unknown-but-empty", "empty-gzip", "one-byte-deflate"],
)
def test_undecodable_or_empty(header: str, data: bytes, expected: tuple[bytes, bool]) -> None:
    # Compressed bytes are never passed through: they would hide personal data from redaction.
    assert decode_body(data, header, LIMIT) == expected


@pytest.mark.parametrize("name", sorted(ENCODERS))
@settings(max_examples=25, derandomize=True, database=None, deadline=None)
@given(data=st.data())
def test_incremental_decoder_matches_one_shot(name: str, data: st.DataObject) -> None:
    compressed = COMPRESSED[name]
    cuts = sorted(data.draw(st.lists(st.integers(min_value=0, max_value=len(compressed)), max_size=12)))
    decoder = BodyDecoder(header_for(name), LIMIT)
    bounds = [0, *cuts, len(compressed)]
    out = b"".join(decoder.feed(compressed[a:b]) for a, b in zip(bounds, bounds[1:], strict=False))
    assert (out + decoder.finish(), decoder.truncated) == (BODY, False)


def test_decoder_stops_feeding_after_the_limit() -> None:
    decoder = BodyDecoder("gzip", 10)
    data = COMPRESSED["gzip"]
    assert decoder.feed(data[:100]) + decoder.feed(data[100:]) + decoder.finish() == BODY[:10]
    assert decoder.truncated


def test_decoded_stream_yields_its_usage() -> None:
    decoded, _ = decode_body(brotli.compress(BODY[: len(BODY) // 8]), "br", LIMIT)
    usage = extract_usage("openai", b"", decoded, streaming=True)
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (19, 15, 34)
