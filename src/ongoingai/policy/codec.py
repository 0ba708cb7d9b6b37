"""Bytes ↔ text ↔ JSON for redaction, with the failure cases named (privacy-and-policy.md §5).

Anything that makes a body's meaning uncertain is an error, never a silent pass: invalid UTF-8, nesting
deeper than the parser can follow, and duplicate object keys (a parser that keeps the first value would
see what this one, keeping the last, did not inspect).
"""

from __future__ import annotations

import json
from typing import Any

INVALID_UTF8 = "body is not valid utf-8"
TOO_DEEP = "json body is nested too deeply"
DUPLICATE_KEY = "json body has a duplicate object key"
NOT_JSON = "body is not valid json"
BOM = "\ufeff"


class BodyError(Exception):
    """The body cannot be inspected with certainty; the message is one of the constants above."""


class NotJson(Exception):
    pass


def decode_utf8(body: bytes, truncated: bool = False) -> str:
    """Raises BodyError. A capture cut at `body_max_size` may end inside a character: only that tail goes."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if truncated and exc.reason == "unexpected end of data" and exc.end == len(body):
            return body[: exc.start].decode("utf-8")
        raise BodyError(INVALID_UTF8) from None


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise BodyError(DUPLICATE_KEY)
    return obj


# Built once: `json.loads` with keyword arguments builds a decoder and its scanner on every call.
_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, strict=False)


def parse_json(text: str) -> Any:
    """Raises NotJson, or BodyError for JSON that cannot be inspected with certainty."""
    try:
        # A leading BOM is accepted by many parsers: it must not turn a JSON body into "text".
        return _DECODER.decode(text.removeprefix(BOM))
    except RecursionError:
        raise BodyError(TOO_DEEP) from None
    except ValueError:
        raise NotJson from None


def dump_json(value: Any) -> str:
    """Compact JSON, input key order kept. Raises BodyError."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except RecursionError:
        raise BodyError(TOO_DEEP) from None


def encode_utf8(text: str) -> bytes:
    # A lone surrogate can only come from a JSON string escape (`"\ud800"`); `backslashreplace` writes it
    # back as that same escape, so the output stays valid UTF-8 and valid JSON.
    return text.encode("utf-8", "backslashreplace")
