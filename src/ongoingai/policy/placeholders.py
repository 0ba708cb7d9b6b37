"""Placeholders `[{type}_REDACTED:{hash}]` (privacy-and-policy.md §6) and their recognition.

The hash is tenant-scoped: first 16 hex of SHA-256 over `workspace_id:salt:raw`, so the same value in two
workspaces never correlates. Recognising existing placeholders is what makes redaction idempotent
(DEVIATIONS.md "Redaction details").
"""

from __future__ import annotations

import hashlib
import re

DEFAULT_FORMAT = "[{type}_REDACTED:{hash}]"
DEFAULT_WORKSPACE = "default"
TYPES = ("EMAIL", "PHONE", "SSN", "TOKEN", "CARD", "FIELD")
_TOKEN = re.compile(r"(\{type\}|\{hash\})")
_TYPE_PATTERN = "(?:" + "|".join(TYPES) + ")"
_HASH_PATTERN = "[0-9a-f]{16}"


def placeholder_hash(workspace_id: str, salt: str, raw: str) -> str:
    # `surrogatepass`: a JSON body may carry a lone surrogate (`"\ud800"`); it must hash, not crash.
    data = f"{workspace_id or DEFAULT_WORKSPACE}:{salt}:{raw}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:16]


def _pattern_of(fmt: str) -> tuple[str, str]:
    """(regex source, longest literal piece) for a format."""
    pieces = _TOKEN.split(fmt)
    source = "".join(
        _TYPE_PATTERN if p == "{type}" else _HASH_PATTERN if p == "{hash}" else re.escape(p) for p in pieces
    )
    literals = [p for p in pieces if p and p not in ("{type}", "{hash}")]
    return source, max(literals, key=len, default="")


class Placeholders:
    """Renders placeholders for one configured format and salt, and finds existing ones in text."""

    def __init__(self, fmt: str = DEFAULT_FORMAT, salt: str = "") -> None:
        self.format = fmt or DEFAULT_FORMAT
        self._salt = salt
        # The default format is always recognised too, so switching formats keeps old placeholders inert.
        sources = dict.fromkeys([_pattern_of(self.format), _pattern_of(DEFAULT_FORMAT)])
        self._pattern = re.compile("|".join(source for source, _ in sources))
        hints = [hint for _, hint in sources]
        self._hints: tuple[str, ...] | None = None if "" in hints else tuple(hints)

    def render(self, type_: str, raw: str, workspace_id: str) -> str:
        digest = placeholder_hash(workspace_id, self._salt, raw)
        return self.format.replace("{type}", type_).replace("{hash}", digest)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Non-overlapping (start, end) of existing placeholders, in order."""
        if self._hints is not None and not any(hint in text for hint in self._hints):
            return []
        return [m.span() for m in self._pattern.finditer(text)]

    def is_placeholder(self, text: str) -> bool:
        return self._pattern.fullmatch(text) is not None
