"""Decoding the captured copy of a compressed body (DEVIATIONS.md "Compressed bodies").

The client gets the upstream bytes unchanged; only the bounded copy the gateway parses and stores is
decoded. Input may be a truncated prefix of the compressed stream and may be corrupt: the decoder keeps
whatever it could decode. Output never grows past `max_size` bytes, so a small compressed body cannot
expand into a large allocation (decompression bomb).

`truncated` means "the decoded bytes are not the whole body": output was cut at `max_size`, the
compressed stream ended early or was found corrupt, or its coding is one we cannot decode. In that last
case (unknown or stacked codings) the copy is empty rather than raw: compressed bytes would hide personal
data from redaction and still store it. Corruption is found only as far as the format can tell: gzip and
zlib carry checksums, brotli does not, so a damaged brotli body may decode to wrong bytes untruncated.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import brotli

# A decoder that raises loses the output of that whole call, so input goes in in slices: corrupt data
# costs at most one slice's worth of output.
SLICE = 16 * 1024


class _Stage(Protocol):
    def decompress(self, data: bytes, limit: int) -> bytes:
        """Decode more input, returning at most `limit` bytes; raises on corrupt data."""

    def flush(self, limit: int) -> bytes:
        """Whatever decoded output is still buffered at end of input (at most `limit` bytes)."""

    @property
    def complete(self) -> bool:
        """The compressed stream reached its end marker."""


class _Identity:
    complete = True

    def decompress(self, data: bytes, limit: int) -> bytes:
        return data[:limit]

    def flush(self, limit: int) -> bytes:
        return b""


class _Zlib:
    """gzip (several members allowed, as RFC 1952 permits) and deflate, zlib-wrapped or raw."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding in ("gzip", "x-gzip")
        self._head = b""  # deflate: bytes kept until the first two tell zlib-wrapped from raw
        self._d: zlib._Decompress | None = zlib.decompressobj(zlib.MAX_WBITS | 16) if self._gzip else None

    @property
    def complete(self) -> bool:
        return self._d is not None and self._d.eof

    def decompress(self, data: bytes, limit: int) -> bytes:
        if self._d is None:
            self._head += data
            if len(self._head) < 2:
                return b""
            data, self._head = self._head, b""
            self._d = zlib.decompressobj(zlib.MAX_WBITS if _zlib_header(data) else -zlib.MAX_WBITS)
        out = self._d.decompress(data, limit)
        while self._gzip and self._d.eof and self._d.unused_data and len(out) < limit:
            rest = self._d.unused_data
            self._d = zlib.decompressobj(zlib.MAX_WBITS | 16)
            out += self._d.decompress(rest, limit - len(out))
        return out

    def flush(self, limit: int) -> bytes:
        return self._d.flush(limit) if self._d is not None and limit > 0 else b""


def _zlib_header(data: bytes) -> bool:
    """RFC 1950 header: CM = 8 (deflate) and the check bits make the first two bytes a multiple of 31."""
    return data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0


class _Brotli:
    def __init__(self) -> None:
        self._d = brotli.Decompressor()

    @property
    def complete(self) -> bool:
        return bool(self._d.is_finished())

    def decompress(self, data: bytes, limit: int) -> bytes:
        # The output buffer limit needs brotli >= 1.2 (the locked version); it bounds each call's output.
        out: bytes = self._d.process(data, output_buffer_limit=limit)
        return out[:limit]

    def flush(self, limit: int) -> bytes:
        return b""


def _stage_for(content_encoding: str) -> _Stage | None:
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return _Identity()
    if len(codings) > 1:
        return None
    coding = codings[0]
    if coding in ("gzip", "x-gzip", "deflate"):
        return _Zlib(coding)
    if coding == "br":
        return _Brotli()
    return None


class BodyDecoder:
    """Incremental decoder for one captured body: `feed` chunks as read, then `finish`."""

    def __init__(self, content_encoding: str, max_size: int) -> None:
        self._stage = _stage_for(content_encoding)
        self._room = max(max_size, 0)
        self._cut = False  # more decoded output existed than max_size allowed
        self._broken = False  # corrupt data
        self._fed = False

    @property
    def truncated(self) -> bool:
        if not self._fed:
            return False
        return self._cut or self._broken or self._stage is None or not self._stage.complete

    def feed(self, chunk: bytes) -> bytes:
        """Decoded bytes for this chunk (possibly empty); nothing more once the output limit is reached."""
        if not chunk:
            return b""
        self._fed = True
        if self._stage is None or self._cut or self._broken:
            return b""
        out: list[bytes] = []
        for start in range(0, len(chunk), SLICE):
            try:
                piece = self._stage.decompress(chunk[start : start + SLICE], self._room + 1)
            except (zlib.error, brotli.error):
                self._broken = True
                break
            if self._take(piece, out):
                break
        return b"".join(out)

    def finish(self) -> bytes:
        """Output still buffered at end of input (a truncated stream may hold some)."""
        if self._stage is None or self._cut or self._broken or not self._fed:
            return b""
        try:
            piece = self._stage.flush(self._room + 1)
        except (zlib.error, brotli.error):
            self._broken = True
            return b""
        out: list[bytes] = []
        self._take(piece, out)
        return b"".join(out)

    def _take(self, piece: bytes, out: list[bytes]) -> bool:
        """Keep what fits; True when the output limit was passed and decoding stops."""
        if len(piece) > self._room:
            out.append(piece[: self._room])
            self._room = 0
            self._cut = True
            return True
        out.append(piece)
        self._room -= len(piece)
        return False


def decode_body(data: bytes, content_encoding: str, max_size: int) -> tuple[bytes, bool]:
    """Decode a captured, possibly truncated, body prefix: (at most `max_size` decoded bytes, truncated)."""
    decoder = BodyDecoder(content_encoding, max_size)
    decoded = decoder.feed(data) + decoder.finish()
    return decoded, decoder.truncated
