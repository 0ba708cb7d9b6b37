"""`doctor`'s check record and its two config-only checks: route wiring and auth posture.

config-and-cli.md §7. Both checks read nothing but the settings, so they run even when storage is down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ongoingai.config import Settings
from ongoingai.providers.routes import build_routes, normalise_prefix, path_matches

API_PREFIX = "/api"
# The protected rows of the route map: the original's five (provider routes, traces, analytics,
# diagnostics, gateway keys) plus `/api/audit` (DEVIATIONS.md "Audit records": route map row added).
PROTECTED_RULES = ("proxy", "traces", "analytics", "diagnostics", "gateway_keys", "audit")
CREDENTIAL_HEADERS = ("authorization", "x-api-key")
NO_ACTION = "no action needed"


@dataclass(frozen=True, slots=True)
class Check:
    """One `doctor` check: `status` is pass, warn, fail or skip; `hint` says what to do (DEVIATIONS.md)."""

    name: str
    status: str
    summary: str
    hint: str
    details: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "status": self.status, "summary": self.summary}
        if self.details:
            out["details"] = list(self.details)
        out["hint"] = self.hint
        return out


def overlap(left: str, right: str) -> bool:
    return path_matches(left, right) or path_matches(right, left)


def route_wiring_check(settings: Settings) -> Check:
    """Provider prefixes must not be `/`, overlap each other, or overlap `/api`; the routes must build."""
    providers = settings.providers
    openai, anthropic = (
        normalise_prefix(providers.openai.prefix),
        normalise_prefix(providers.anthropic.prefix),
    )
    pair = (f'openai="{openai}" anthropic="{anthropic}"',)
    hint = "give each provider its own prefix under the root, outside /api (providers.<name>.prefix)"
    if "/" in (openai, anthropic):
        return Check("route_wiring", "fail", "provider prefixes must not be root ('/')", hint, pair)
    if overlap(openai, anthropic):
        return Check("route_wiring", "fail", "provider route prefixes overlap", hint, pair)
    if overlap(openai, API_PREFIX) or overlap(anthropic, API_PREFIX):
        detail = (f'{pair[0]} api="{API_PREFIX}"',)
        return Check(
            "route_wiring", "fail", "provider prefixes must not overlap with /api routes", hint, detail
        )
    try:
        build_routes(settings)
    except ValueError as exc:
        return Check(
            "route_wiring", "fail", "failed to build proxy handler with configured routes", hint, (str(exc),)
        )
    details = (
        f"openai: {openai} -> {providers.openai.upstream.strip()}",
        f"anthropic: {anthropic} -> {providers.anthropic.upstream.strip()}",
        f"api routes: {API_PREFIX}/*",
    )
    return Check("route_wiring", "pass", "provider and API route wiring looks valid", NO_ACTION, details)


def _active_config_keys(settings: Settings, now: datetime) -> int:
    count = 0
    for key in settings.auth.keys:
        expires = key.expires_at
        if expires and datetime.fromisoformat(expires.replace("Z", "+00:00")) <= now:
            continue
        if key.token.get_secret_value():
            count += 1
    return count


def auth_posture_check(settings: Settings, now: datetime | None = None) -> Check:
    """Auth off → warn; the gateway-key header is a provider-credential header → fail; no key → fail."""
    auth = settings.auth
    header = auth.header.strip()
    rules = len(PROTECTED_RULES)
    if header.lower() in CREDENTIAL_HEADERS:
        detail = (f'auth.header="{header}" conflicts with Authorization/X-API-Key',)
        hint = "choose another auth.header, e.g. X-OngoingAI-Gateway-Key"
        return Check(
            "auth_posture", "fail", "auth header conflicts with provider credential headers", hint, detail
        )
    if not auth.enabled:
        details = (
            f"auth.enabled=false (header: {header})",
            f"{rules} protected authorization rules are bypassed",
        )
        hint = "set auth.enabled=true with gateway keys before exposing the gateway beyond this host"
        return Check("auth_posture", "warn", "gateway auth is disabled", hint, details)
    keys = _active_config_keys(settings, now or datetime.now(UTC))
    if auth.key_store == "config" and keys == 0:
        hint = "add a key with a token under auth.keys, or use auth.key_store: database"
        detail = ("no active gateway keys in auth.keys",)
        return Check("auth_posture", "fail", "gateway auth configuration is not runnable", hint, detail)
    counted = f"active gateway keys: {keys}"
    if auth.key_store == "database":
        counted += " (bootstrap keys from auth.keys; keys in the gateway_keys table are not counted offline)"
    healthy = (f"auth header: {header}", counted, f"protected authorization rules: {rules}")
    return Check("auth_posture", "pass", "gateway auth posture is healthy", NO_ACTION, healthy)
