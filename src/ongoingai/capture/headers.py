"""Stored header form: canonical names (`X-Api-Key`) → value lists, with denylisted values redacted."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

REDACTED = "[REDACTED]"
BUILTIN_DENYLIST = frozenset(
    {"authorization", "cookie", "set-cookie", "x-api-key", "x-ongoingai-gateway-key"}
)


@lru_cache(maxsize=4096)  # header names repeat across requests; bounded against hostile variety
def canonical_name(name: str) -> str:
    """Each dash-separated word capitalised, the rest lower-case (traces-and-lineage.md §1)."""
    return "-".join(word[:1].upper() + word[1:].lower() for word in name.split("-"))


def stored_headers(
    raw: Iterable[tuple[bytes, bytes]], denylist: frozenset[str]
) -> tuple[dict[str, list[str]], int]:
    """(canonical → values with denylisted lists replaced by `["[REDACTED]"]`, values redacted)."""
    grouped: dict[str, list[str]] = {}
    for name, value in raw:
        grouped.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    out: dict[str, list[str]] = {}
    redacted = 0
    for lower, values in grouped.items():
        if lower in denylist:
            redacted += len(values)
            out[canonical_name(lower)] = [REDACTED]
        else:
            out[canonical_name(lower)] = values
    return out, redacted
