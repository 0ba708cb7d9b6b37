"""Roles and the permission matrix (auth-and-tenancy.md §5 as changed by DEVIATIONS.md).

An omitted role means `developer`; an empty or unknown role is rejected where keys are declared or
created (`invalid role "x"`), so every key that reaches the cache has a known role. Explicit
permissions are additive; unknown names are kept but never match a route.
"""

from __future__ import annotations

from collections.abc import Iterable

PROXY_WRITE = "proxy:write"
ANALYTICS_READ = "analytics:read"
KEYS_MANAGE = "keys:manage"
AUDIT_READ = "audit:read"

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "owner": frozenset({PROXY_WRITE, ANALYTICS_READ, KEYS_MANAGE, AUDIT_READ}),
    "admin": frozenset({PROXY_WRITE, ANALYTICS_READ, KEYS_MANAGE, AUDIT_READ}),
    "developer": frozenset({PROXY_WRITE, ANALYTICS_READ}),
    "member": frozenset({PROXY_WRITE, ANALYTICS_READ}),
    "viewer": frozenset({ANALYTICS_READ}),
}
ROLES = tuple(ROLE_PERMISSIONS)


class InvalidRoleError(ValueError):
    """The message is the API's 400 text: `invalid role "x"`."""

    def __init__(self, role: str) -> None:
        super().__init__(f'invalid role "{role}"')


def resolve_role(raw: str | None, default: str = "developer") -> str:
    """Lower-cased, trimmed role; None (omitted) → `default`.

    Raises:
        InvalidRoleError: the role is empty or not one of `ROLES`.
    """
    if raw is None:
        return default
    role = raw.strip().lower()
    if role not in ROLE_PERMISSIONS:
        raise InvalidRoleError(raw)
    return role


def normalise_permissions(raw: Iterable[str]) -> tuple[str, ...]:
    """Trimmed, lower-cased, empties skipped, de-duplicated in first-seen order."""
    seen: dict[str, None] = {}
    for item in raw:
        value = item.strip().lower()
        if value:
            seen.setdefault(value, None)
    return tuple(seen)


def permissions_for(role: str, explicit: Iterable[str] = ()) -> frozenset[str]:
    """Role defaults ∪ explicit permissions; an unknown role contributes nothing (deny by default)."""
    defaults = ROLE_PERMISSIONS.get(role.strip().lower(), frozenset())
    return defaults | frozenset(normalise_permissions(explicit))
