"""`KeyLifecycle`: list, create, revoke and rotate gateway keys (http-api.md §9 + DEVIATIONS.md).

The service behind `/api/gateway-keys`. Mutations need auth enabled (`403 enable auth to manage gateway
keys`: nobody can plant a key before auth is on) and the database key store (`auth.key_store:
database`; the config store answers 501). A new key always lands in the caller's tenant; a key outside
it reads as not found. The caller's own instance refreshes its key cache right after a change; other
instances see it at their next refresh.

Errors are `GatewayError`s carrying the audit reason of auth-and-tenancy.md §10.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ongoingai.auth.cache import KeyCache
from ongoingai.auth.identity import Identity
from ongoingai.auth.keys import (
    GatewayKey,
    generate_key_id,
    generate_token,
    hash_token,
    is_valid_key_id,
)
from ongoingai.auth.last_used import LastUsedRecorder
from ongoingai.auth.roles import InvalidRoleError, normalise_permissions, resolve_role
from ongoingai.auth.stores.base import KeyConflictError, TokenConflictError
from ongoingai.auth.stores.sql import SqlKeyStore
from ongoingai.http.errors import GatewayError
from ongoingai.query import TenantScope
from ongoingai.store.writes import DRIVER_ERRORS

logger = logging.getLogger(__name__)

MAX_GRACE_SECONDS = 86_400


class KeyLifecycleError(GatewayError):
    reason = "error"


class AuthDisabledError(KeyLifecycleError):
    status = 403
    message = "enable auth to manage gateway keys"
    reason = "auth_disabled"


class MutationsNotSupportedError(KeyLifecycleError):
    status = 501
    message = "gateway key mutations are not supported by this config store"
    reason = "not_implemented"


class KeyStoreUnavailableError(KeyLifecycleError):
    status = 503
    message = "gateway key store is not configured"
    reason = "store_unavailable"


class KeyNotFoundError(KeyLifecycleError):
    status = 404
    message = "gateway key not found"
    reason = "not_found"


class KeyExistsError(KeyLifecycleError):
    status = 409
    message = "gateway key already exists"
    reason = "conflict"


class TokenExistsError(KeyLifecycleError):
    status = 409
    message = "gateway key token already exists"
    reason = "conflict"


class BodyTooLargeError(KeyLifecycleError):
    status = 413
    message = "request body too large"
    reason = "body_too_large"


class InvalidJsonError(KeyLifecycleError):
    status = 400
    message = "invalid json body"
    reason = "invalid_json"


class InvalidKeyRequestError(KeyLifecycleError):
    status = 400
    reason = "invalid_request"


class KeyStoreFailedError(KeyLifecycleError):
    status = 500

    def __init__(self, operation: str) -> None:
        self.reason = f"{operation}_failed"
        noun = "gateway keys" if operation == "list" else "gateway key"
        super().__init__(f"failed to {operation} {noun}")


@dataclass(frozen=True, slots=True)
class KeyRequest:
    """A validated-shape create body; values are checked by `KeyLifecycle.create`."""

    id: str = ""
    token: str = ""
    name: str = ""
    description: str = ""
    role: str | None = None
    permissions: tuple[str, ...] = ()
    expires_at: datetime | None = None


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


class KeyLifecycle:
    def __init__(
        self,
        *,
        auth_enabled: bool,
        database: bool,
        cache: KeyCache,
        last_used: LastUsedRecorder,
        clock: Callable[[], datetime],
    ) -> None:
        self.auth_enabled = auth_enabled
        self.database = database
        self.config_keys: tuple[GatewayKey, ...] = ()
        self.sql: SqlKeyStore | None = None
        self._cache = cache
        self._last_used = last_used
        self._clock = clock

    async def list_keys(self, scope: TenantScope | None) -> list[GatewayKey]:
        """Active keys in `scope` (all when None), oldest first, with the freshest `last_used_at` known.

        Raises:
            KeyLifecycleError: 503 no store yet, 500 the store failed.
        """
        if self.database:
            sql = self._store()
            try:
                keys = await sql.list_keys(scope)
            except DRIVER_ERRORS as exc:
                raise self._failed("list", exc) from exc
        else:
            keys = sorted((_tenanted(k) for k in self.config_keys if _visible(k, scope)), key=lambda k: k.id)
        return [replace(k, last_used_at=_later(k.last_used_at, self._last_used.seen(k.id))) for k in keys]

    async def create(self, caller: Identity | None, request: KeyRequest) -> tuple[GatewayKey, str]:
        """Store a new key in the caller's tenant; returns it and its token (shown this once).

        Raises:
            KeyLifecycleError: 403/501/503 mutations unavailable, 400 invalid request, 409 conflict, 500.
        """
        sql, caller = self.require_mutable(caller)
        key_id = request.id.strip() or generate_key_id()
        if not is_valid_key_id(key_id):
            raise InvalidKeyRequestError("invalid gateway key id")
        try:
            role = resolve_role(request.role)
        except InvalidRoleError as exc:
            raise InvalidKeyRequestError(str(exc)) from None
        now = self._clock()
        if request.expires_at is not None and request.expires_at <= now:
            raise InvalidKeyRequestError("expires_at must be in the future")
        token = request.token.strip() or generate_token()
        key = GatewayKey(
            id=key_id,
            token_hash=hash_token(token),
            org_id=caller.org_id,
            workspace_id=caller.workspace_id,
            name=request.name,
            description=request.description,
            created_by=caller.key_id or "system",
            role=role,
            permissions=normalise_permissions(request.permissions),
            created_at=now,
            expires_at=request.expires_at,
        )
        if any(c.id == key.id or c.token_hash == key.token_hash for c in self.config_keys):
            raise KeyExistsError()
        try:
            await sql.create(key)
        except KeyConflictError:
            raise KeyExistsError() from None
        except DRIVER_ERRORS as exc:
            raise self._failed("create", exc) from exc
        await self._refresh_cache()
        return key, token

    async def revoke(self, caller: Identity | None, key_id: str) -> None:
        """Revoke an active key of the caller's tenant; both its tokens stop working.

        Raises:
            KeyLifecycleError: 403/501/503 mutations unavailable, 404 no such key in scope, 500.
        """
        sql, caller = self.require_mutable(caller)
        try:
            found = await sql.revoke(key_id, _scope_of(caller), self._clock())
        except DRIVER_ERRORS as exc:
            raise self._failed("revoke", exc) from exc
        if not found:
            raise KeyNotFoundError()
        await self._refresh_cache()

    async def rotate(
        self, caller: Identity | None, key_id: str, token: str = "", grace_seconds: int = 0
    ) -> tuple[GatewayKey, str]:
        """Replace a key's token; the old one keeps working for `grace_seconds` (0: stops now).

        Raises:
            KeyLifecycleError: 403/501/503 mutations unavailable, 400 bad grace, 404, 409 token taken, 500.
        """
        sql, caller = self.require_mutable(caller)
        if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
            raise InvalidKeyRequestError(f"grace_seconds must be between 0 and {MAX_GRACE_SECONDS}")
        token = token.strip() or generate_token()
        token_hash = hash_token(token)
        if any(c.token_hash == token_hash for c in self.config_keys):
            raise TokenExistsError()
        now = self._clock()
        previous_end = now + timedelta(seconds=grace_seconds) if grace_seconds else None
        try:
            key = await sql.rotate(key_id, _scope_of(caller), token_hash, previous_end, now)
        except TokenConflictError:
            raise TokenExistsError() from None
        except DRIVER_ERRORS as exc:
            raise self._failed("rotate", exc) from exc
        if key is None:
            raise KeyNotFoundError()
        await self._refresh_cache()
        return key, token

    def require_mutable(self, caller: Identity | None) -> tuple[SqlKeyStore, Identity]:
        """The store and caller a mutation runs with, or the error that refuses it."""
        if not self.auth_enabled or caller is None:
            raise AuthDisabledError()
        if not self.database:
            raise MutationsNotSupportedError()
        return self._store(), caller

    def _store(self) -> SqlKeyStore:
        if self.sql is None:
            raise KeyStoreUnavailableError()
        return self.sql

    def _failed(self, operation: str, exc: BaseException) -> KeyStoreFailedError:
        logger.error(
            "gateway key store operation failed",
            extra={"operation": operation, "error_kind": type(exc).__name__},
        )
        return KeyStoreFailedError(operation)

    async def _refresh_cache(self) -> None:
        try:
            await self._cache.refresh()
        except DRIVER_ERRORS as exc:  # the scheduled refresh will pick the change up
            logger.warning("failed to refresh gateway key cache", extra={"error_kind": type(exc).__name__})


def _scope_of(caller: Identity) -> TenantScope:
    return TenantScope(caller.org_id, caller.workspace_id)


def _tenanted(key: GatewayKey) -> GatewayKey:
    """A config key with its resolved tenant (empty org/workspace → `default`, team as workspace)."""
    identity = key.identity()
    return replace(key, org_id=identity.org_id, workspace_id=identity.workspace_id)


def _visible(key: GatewayKey, scope: TenantScope | None) -> bool:
    if scope is None:
        return True
    identity = key.identity()
    return (identity.org_id, identity.workspace_id) == (scope.org_id, scope.workspace_id)
