"""Typed reads from decoded provider JSON: upstream bodies are untrusted, so every read checks its type."""

from __future__ import annotations

import math
from collections.abc import Mapping

Json = Mapping[str, object]


def get_map(obj: Json | None, key: str) -> Json | None:
    """The value under `key` when it is a JSON object, else None (absent, null or another type)."""
    if obj is None:
        return None
    value = obj.get(key)
    # Parsed JSON holds plain dicts: spare the ABC check (the usage scan calls this per stream event).
    if type(value) is dict:
        return value
    if value is None:
        return None
    return value if isinstance(value, Mapping) else None


def get_str(obj: Json | None, key: str) -> str:
    """The value under `key` when it is a non-blank string, else ""."""
    if obj is None:
        return ""
    value = obj.get(key)
    return value if isinstance(value, str) and value.strip() else ""


def get_count(obj: Json | None, key: str) -> int | None:
    """A token count: a non-negative JSON number (floats truncated), None when absent or not a number.

    `bool` is an `int` subclass in Python, but `true` is not a count.
    """
    if obj is None:
        return None
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value):
        return None
    return max(int(value), 0)


def first_count(obj: Json | None, *keys: str) -> int:
    """The first of `keys` holding a number (proxy.md §7 "first numeric of"), 0 when none does."""
    for key in keys:
        count = get_count(obj, key)
        if count is not None:
            return count
    return 0
