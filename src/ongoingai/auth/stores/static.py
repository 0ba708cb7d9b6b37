"""`StaticKeyStore`: the keys of `auth.keys`, hashed at load (auth-and-tenancy.md §2).

An empty token or two keys with the same token are startup errors when auth is enabled; with auth
disabled nothing authenticates, so such entries are only skipped (the key list still shows the rest).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from ongoingai.auth.keys import DEFAULT_ROLE, GatewayKey, hash_token
from ongoingai.auth.roles import InvalidRoleError, normalise_permissions, resolve_role
from ongoingai.config.model import GatewayKeyConfig


class AuthConfigError(Exception):
    """`auth.keys` cannot be used; `serve` prints `failed to initialize auth config: <message>`."""


def parse_expires_at(value: str | None) -> datetime | None:
    """RFC 3339 → aware UTC datetime (config validation already checked the form)."""
    if value is None or not value.strip():
        return None
    parsed = datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _key_from_config(index: int, cfg: GatewayKeyConfig, token: str) -> GatewayKey:
    try:
        role = resolve_role(cfg.role, DEFAULT_ROLE)
        expires_at = parse_expires_at(cfg.expires_at)
    except InvalidRoleError as exc:
        raise AuthConfigError(f"auth.keys[{index}].role: {exc}") from None
    except ValueError:
        raise AuthConfigError(f"auth.keys[{index}].expires_at must be an RFC 3339 timestamp") from None
    return GatewayKey(
        id=cfg.id.strip(),
        token_hash=hash_token(token),
        org_id=cfg.org_id.strip(),
        workspace_id=cfg.workspace_id.strip(),
        team=cfg.team.strip(),
        name=cfg.name,
        description=cfg.description,
        created_by=cfg.created_by,
        role=role,
        permissions=normalise_permissions(cfg.permissions),
        expires_at=expires_at,
    )


def load_config_keys(configs: Sequence[GatewayKeyConfig], *, strict: bool) -> tuple[GatewayKey, ...]:
    """The configured keys, hashed. `strict` (auth enabled) turns skipped entries into errors.

    Raises:
        AuthConfigError: (strict) an empty or duplicate token, or an unusable role or expiry.
    """
    keys: list[GatewayKey] = []
    seen: set[str] = set()
    for index, cfg in enumerate(configs):
        token = cfg.token.get_secret_value().strip()
        if not token:
            if strict:
                raise AuthConfigError("gateway key token cannot be empty")
            continue
        try:
            key = _key_from_config(index, cfg, token)
        except AuthConfigError:
            if strict:
                raise
            continue
        if key.token_hash in seen:
            if strict:
                raise AuthConfigError("duplicate gateway key token in auth config")
            continue
        seen.add(key.token_hash)
        keys.append(key)
    return tuple(keys)


class StaticKeyStore:
    """Implements `KeySource` over config keys; mutations are not supported (501)."""

    def __init__(self, keys: Sequence[GatewayKey]) -> None:
        self.keys = tuple(keys)

    async def active_keys(self) -> list[GatewayKey]:
        return list(self.keys)
