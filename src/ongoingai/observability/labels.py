"""Bounded label values shared by the access log, span names and metric labels: the fixed route pattern
and its provider (observability.md §1), and `unknown`. Free of OpenTelemetry: the access log needs them
with telemetry off.
"""

from __future__ import annotations

from typing import Protocol

UNKNOWN = "unknown"
# observability.md §1: fixed strings, not the configured prefixes.
_PATTERNS = (("/openai", "/openai/*"), ("/anthropic", "/anthropic/*"), ("/api", "/api/*"))
_ROUTE_PROVIDER = {"/openai/*": ("openai", "/openai"), "/anthropic/*": ("anthropic", "/anthropic")}


def route_pattern(path: str) -> str:
    for prefix, pattern in _PATTERNS:
        if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
            return pattern
    return "/other"


def route_provider(pattern: str) -> tuple[str, str]:
    """(`gateway.route.provider`, `gateway.route.prefix`) for a route pattern."""
    return _ROUTE_PROVIDER.get(pattern, (UNKNOWN, "/"))


class CallerIdentity(Protocol):
    """What telemetry reads of the auth layer's `Identity` (structural: observability never imports `auth`,
    which sits above it in the import layers)."""

    @property
    def key_id(self) -> str: ...

    @property
    def org_id(self) -> str: ...

    @property
    def workspace_id(self) -> str: ...

    @property
    def role(self) -> str: ...
