"""What a redaction reports: counts by class and matched JSON paths, never a matched value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

CountKey = Literal["header", "email", "phone", "ssn", "token_like", "card", "field_name", "json_path"]
COUNT_KEYS: tuple[CountKey, ...] = (
    "header",
    "email",
    "phone",
    "ssn",
    "token_like",
    "card",
    "field_name",
    "json_path",
)
# An audit record or trace needs to say where, not list every string of a 256 KB body.
MAX_PATHS = 100


class Tally:
    """Mutable accumulator used while one body is processed; frozen into a result at the end."""

    __slots__ = ("counts", "paths")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.paths: dict[str, None] = {}  # an ordered set: first occurrence wins

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def add_path(self, path: str) -> None:
        if len(self.paths) < MAX_PATHS:
            self.paths[path] = None

    def frozen_counts(self) -> dict[str, int]:
        return {key: self.counts[key] for key in COUNT_KEYS if self.counts.get(key)}

    def frozen_paths(self) -> tuple[str, ...]:
        return tuple(self.paths)


def merge_counts(*parts: Mapping[str, int]) -> dict[str, int]:
    """Sum count maps (e.g. header counts and body counts) in the canonical key order."""
    total: dict[str, int] = {}
    for part in parts:
        for key, n in part.items():
            total[key] = total.get(key, 0) + n
    return {key: total[key] for key in COUNT_KEYS if total.get(key)}


@dataclass(frozen=True, slots=True)
class Redaction:
    """The outcome of redacting one body.

    `body` is the redacted body (the input bytes unchanged when nothing matched, compact JSON when a JSON
    body changed); on `error` it is empty and must not be stored or forwarded.
    """

    body: bytes
    counts: dict[str, int] = field(default_factory=dict)
    paths: tuple[str, ...] = ()
    truncated: bool = False
    error: str = ""

    @property
    def applied(self) -> bool:
        return bool(self.counts)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass(frozen=True, slots=True)
class TextRedaction:
    text: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredHeaders:
    """Canonical header name → values, denylisted value lists replaced by `["[REDACTED]"]`."""

    headers: dict[str, list[str]]
    redacted: int = 0
