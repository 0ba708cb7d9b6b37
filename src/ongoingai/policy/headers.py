"""Header redaction for storage (privacy-and-policy.md §4): by name, whole value lists, every mode.

The configured `auth.header` is always in the built-in list (DEVIATIONS.md "Header redaction in
storage"); the custom `pii.headers.denylist` joins per stage. Forwarded headers are never touched.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from ongoingai.config.model import PiiSettings
from ongoingai.policy.result import StoredHeaders

REDACTED = "[REDACTED]"
BUILTIN_DENYLIST = frozenset(
    {"authorization", "cookie", "set-cookie", "x-api-key", "x-ongoingai-gateway-key"}
)

HeaderPairs = Iterable[tuple[bytes, bytes]] | Iterable[tuple[str, str]]


@functools.lru_cache(maxsize=1024)
def canonical_name(name: str) -> str:
    """`x-api-key` → `X-Api-Key` (traces-and-lineage.md §1). Cached: the same few dozen names recur in
    every request and response, and a client-chosen name costs one bounded slot."""
    return "-".join(word[:1].upper() + word[1:].lower() for word in name.split("-"))


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


class HeaderRedactor:
    def __init__(self, request_denylist: frozenset[str], response_denylist: frozenset[str]) -> None:
        self.request_denylist = request_denylist
        self.response_denylist = response_denylist

    @classmethod
    def from_settings(cls, pii: PiiSettings, auth_header: str) -> HeaderRedactor:
        builtin = BUILTIN_DENYLIST | {auth_header.strip().lower()} - {""}
        custom = frozenset(h.strip().lower() for h in pii.headers.denylist) - {""}
        return cls(
            builtin | custom if pii.stages.request_headers else builtin,
            builtin | custom if pii.stages.response_headers else builtin,
        )

    def redact(self, headers: HeaderPairs, *, response: bool = False) -> StoredHeaders:
        denylist = self.response_denylist if response else self.request_denylist
        grouped: dict[str, list[str]] = {}
        for name, value in headers:
            grouped.setdefault(_text(name).strip().lower(), []).append(_text(value))
        stored: dict[str, list[str]] = {}
        redacted = 0
        for lower, values in grouped.items():
            if lower in denylist:
                redacted += len(values)
                stored[canonical_name(lower)] = [REDACTED]
            else:
                stored[canonical_name(lower)] = values
        return StoredHeaders(stored, redacted)
