"""The deny-by-default route map (auth-and-tenancy.md §6 with the DEVIATIONS.md rows): method + path →
bypass, require a permission, or deny as `action_unmapped`.

Rows, in evaluation order: OPTIONS under `/api` or a provider prefix → bypass; provider routes →
`proxy:write`; the public reads (`/api/health`, `/api/ready`, `/api/openapi.json`); then each mapped
`/api` route; anything else under `/api` is denied; anything else at all (`/`, a metrics path) is
bypassed. Provider routes are matched by the gateway before this runs, so the hot path is one branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ongoingai.auth.roles import ANALYTICS_READ, AUDIT_READ, KEYS_MANAGE, PROXY_WRITE

API_PREFIX = "/api"
READ_METHODS = frozenset({"GET", "HEAD"})


class Outcome(Enum):
    BYPASS = "bypass"
    REQUIRE = "require"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    resource: str = ""
    action: str = ""
    scope: str = ""
    permission: str = ""
    provider: str = ""


BYPASS = Decision(Outcome.BYPASS)
PUBLIC = Decision(Outcome.BYPASS, "health", "read", "public")
UNMAPPED = Decision(Outcome.DENY, "api", "", "workspace")
TRACES_READ = Decision(Outcome.REQUIRE, "traces", "read", "workspace", ANALYTICS_READ)
ANALYTICS = Decision(Outcome.REQUIRE, "analytics", "read", "workspace", ANALYTICS_READ)
DIAGNOSTICS = Decision(Outcome.REQUIRE, "diagnostics", "read", "workspace", ANALYTICS_READ)
KEYS = Decision(Outcome.REQUIRE, "gateway_keys", "manage", "workspace", KEYS_MANAGE)
AUDIT = Decision(Outcome.REQUIRE, "audit", "read", "workspace", AUDIT_READ)

PUBLIC_READS = frozenset({"/api/health", "/api/ready", "/api/openapi.json"})
# DEVIATIONS.md "Auth route map": latency and errors need analytics:read like the others.
ANALYTICS_PATHS = frozenset(
    f"/api/analytics/{name}" for name in ("usage", "cost", "models", "keys", "summary", "latency", "errors")
)


def provider_decision(provider: str) -> Decision:
    """Rows 2–3: any method under a provider prefix needs `proxy:write`."""
    return Decision(Outcome.REQUIRE, "proxy", "forward", "workspace", PROXY_WRITE, provider)


def _segments(path: str, collection: str) -> list[str] | None:
    """Sub-path segments after `collection` (surrounding slashes trimmed); None if not under it."""
    if path == collection:
        return []
    if not path.startswith(collection + "/"):
        return None
    rest = path[len(collection) :].strip("/")
    return rest.split("/") if rest else []


def _traces(method: str, parts: list[str]) -> Decision:
    if len(parts) <= 1 or (len(parts) == 2 and parts[1] == "replay"):
        return TRACES_READ if method in READ_METHODS else UNMAPPED
    if len(parts) == 2 and parts[1] == "fork" and method == "POST":
        return TRACES_READ
    return UNMAPPED


def _gateway_keys(method: str, parts: list[str]) -> Decision:
    if not parts:
        return KEYS if method in ("GET", "POST") else UNMAPPED
    if len(parts) == 1:
        return KEYS if method == "DELETE" else UNMAPPED
    if len(parts) == 2 and parts[1] == "rotate" and method == "POST":
        return KEYS
    return UNMAPPED


def _api(method: str, path: str) -> Decision:
    read = method in READ_METHODS
    if path in PUBLIC_READS:
        return PUBLIC if read else UNMAPPED
    if path in ANALYTICS_PATHS:
        return ANALYTICS if read else UNMAPPED
    if path in ("/api/diagnostics/trace-pipeline", "/api/diagnostics/limits"):
        return DIAGNOSTICS if read else UNMAPPED
    if path == "/api/audit":
        return AUDIT if read else UNMAPPED
    parts = _segments(path, "/api/traces")
    if parts is not None:
        return _traces(method, parts)
    parts = _segments(path, "/api/gateway-keys")
    if parts is not None:
        return _gateway_keys(method, parts)
    return UNMAPPED


def decide(method: str, path: str, provider: str | None = None) -> Decision:
    """The route-map decision; `provider` is the provider whose prefix matched the path, if any."""
    if provider is not None:
        return BYPASS if method == "OPTIONS" else provider_decision(provider)
    if path != API_PREFIX and not path.startswith(API_PREFIX + "/"):
        return BYPASS
    if method == "OPTIONS":
        return BYPASS
    return _api(method, path)
