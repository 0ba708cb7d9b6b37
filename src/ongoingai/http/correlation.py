"""Correlation id: accepted from the client or generated, echoed on every response (proxy.md §9)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

RESPONSE_HEADER = b"x-ongoingai-correlation-id"
# Inbound sources in order of preference; names are lower-case as ASGI delivers them.
_SOURCES = (b"x-ongoingai-correlation-id", b"x-request-id", b"x-correlation-id")
_ACCEPTED = re.compile(r"[A-Za-z0-9\-_.:]+")
_MAX_LEN = 128


def accept_correlation_id(raw: str) -> str | None:
    value = raw.strip()[:_MAX_LEN]
    return value if value and _ACCEPTED.fullmatch(value) else None


def new_correlation_id() -> str:
    return "corr-" + os.urandom(16).hex()


def correlation_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """First acceptable value among the inbound sources, else a fresh id."""
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        if name in _SOURCES and name not in found:
            found[name] = value
    for source in _SOURCES:
        if source in found:
            accepted = accept_correlation_id(found[source].decode("latin-1"))
            if accepted:
                return accepted
    return new_correlation_id()
