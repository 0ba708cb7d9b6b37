"""Trace-list cursors and the one RFC 3339 form the API and CLI print (http-api.md §1, §5).

Cursor = unpadded base64url of `<created_at RFC3339Nano UTC>|<id>` of the last row returned.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

from ongoingai.store.columns import parse_stored_time, to_utc


class CursorError(ValueError):
    """The message is what follows `trace cursor is invalid: ` in the 400 answer."""


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: datetime
    id: str


def format_rfc3339(value: datetime) -> str:
    """UTC with `Z`; fractional seconds only when non-zero, trailing zeros trimmed."""
    utc = to_utc(value)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def encode_cursor(cursor: Cursor) -> str:
    raw = f"{format_rfc3339(cursor.created_at)}|{cursor.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    """Raises:
    CursorError: `decode base64 cursor`, `missing id` or `parse created_at`.
    """
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorError("decode base64 cursor") from None
    created, sep, trace_id = raw.partition("|")
    if not sep or not trace_id:
        raise CursorError("missing id")
    if "T" not in created:
        raise CursorError("parse created_at")
    try:
        created_at = parse_stored_time(created)
    except ValueError:
        raise CursorError("parse created_at") from None
    return Cursor(created_at.astimezone(UTC), trace_id)
