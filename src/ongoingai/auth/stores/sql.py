"""`SqlKeyStore` (the `gateway_keys` table) and `SqlAuditLog` (`audit_events`) on SQLite or Postgres.

Every scoped statement runs in a transaction confined to the caller's tenant (`store.tenancy`), so on
Postgres row-level security backs up the explicit org/workspace filters. Creating a key also creates
its organization and workspace rows when they are new (auth-and-tenancy.md §9).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ongoingai.auth.audit import AuditEvent
from ongoingai.auth.keys import GatewayKey
from ongoingai.auth.stores.base import KeyConflictError, TokenConflictError
from ongoingai.query import TenantScope
from ongoingai.store.auth_tables import audit_events, gateway_keys, organizations, workspaces
from ongoingai.store.errors import classify_error
from ongoingai.store.tenancy import scoped_begin
from ongoingai.store.writes import BUSY_FIRST_DELAY_S, BUSY_MAX_DELAY_S, BUSY_RETRIES, DRIVER_ERRORS

T = TypeVar("T")

_C = gateway_keys.c
_ACTIVE = _C.revoked_at.is_(None)


def key_from_row(row: Mapping[Any, Any]) -> GatewayKey:
    raw = row["permissions"]
    permissions = tuple(p for p in raw if isinstance(p, str)) if isinstance(raw, list) else ()
    return GatewayKey(
        id=row["id"],
        token_hash=row["token_hash"],
        org_id=row["org_id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        description=row["description"],
        created_by=row["created_by"],
        role=row["role"],
        permissions=permissions,
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        previous_token_hash=row["previous_token_hash"],
        previous_token_expires_at=row["previous_token_expires_at"],
    )


def _row_from_key(key: GatewayKey) -> dict[str, Any]:
    row = {
        "id": key.id,
        "token_hash": key.token_hash,
        "org_id": key.org_id,
        "workspace_id": key.workspace_id,
        "name": key.name,
        "description": key.description,
        "created_by": key.created_by,
        "role": key.role,
        "permissions": list(key.permissions),
        "created_at": key.created_at,
        "expires_at": key.expires_at,
    }
    if key.created_at is None:  # the database's clock, as for rows written by hand
        del row["created_at"]
    return row


def _in_scope(scope: TenantScope | None) -> list[sa.ColumnElement[bool]]:
    if scope is None:
        return []
    return [_C.org_id == scope.org_id, _C.workspace_id == scope.workspace_id]


def _tenant(scope: TenantScope | None) -> tuple[str, str]:
    return (scope.org_id, scope.workspace_id) if scope is not None else ("", "")


async def retry_busy(operation: Callable[[], Awaitable[T]]) -> T:
    """Run a write transaction, retrying SQLite busy/locked answers as the trace writes do.

    A deferred SQLite transaction that read before writing gets `database is locked` at once when
    another connection (the trace or audit writer) committed in between; the whole transaction is
    then simply run again.
    """
    delay = BUSY_FIRST_DELAY_S
    for attempt in range(BUSY_RETRIES):
        try:
            return await operation()
        except DRIVER_ERRORS as exc:
            if attempt == BUSY_RETRIES - 1 or classify_error(exc) != "contention":
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, BUSY_MAX_DELAY_S)
    raise AssertionError("unreachable")  # pragma: no cover


def _insert_ignoring_duplicates(dialect: str, table: sa.Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


class SqlKeyStore:
    """Implements `KeySource` and the lifecycle mutations over `gateway_keys`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def active_keys(self) -> list[GatewayKey]:
        """Unscoped: the key cache needs every tenant's keys."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(gateway_keys).where(_ACTIVE))).mappings().all()
        return [key_from_row(row) for row in rows]

    async def list_keys(self, scope: TenantScope | None) -> list[GatewayKey]:
        query = sa.select(gateway_keys).where(_ACTIVE, *_in_scope(scope)).order_by(_C.created_at, _C.id)
        async with scoped_begin(self.engine, *_tenant(scope)) as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [key_from_row(row) for row in rows]

    async def create(self, key: GatewayKey) -> None:
        """Insert `key`, creating its organization and workspace rows when new.

        Raises:
            KeyConflictError: the id or token hash exists (or a tenant row could not be created).
        """

        async def insert() -> None:
            async with scoped_begin(self.engine, key.org_id, key.workspace_id) as conn:
                await self._ensure_tenant(conn, key.org_id, key.workspace_id)
                await conn.execute(gateway_keys.insert().values(_row_from_key(key)))

        try:
            await retry_busy(insert)
        except sa_exc.IntegrityError as exc:
            raise KeyConflictError(key.id) from exc

    async def _ensure_tenant(self, conn: AsyncConnection, org_id: str, workspace_id: str) -> None:
        dialect = conn.dialect.name
        await conn.execute(_insert_ignoring_duplicates(dialect, organizations).values(id=org_id, name=org_id))
        await conn.execute(
            _insert_ignoring_duplicates(dialect, workspaces).values(
                org_id=org_id, id=workspace_id, name=workspace_id
            )
        )

    async def revoke(self, key_id: str, scope: TenantScope | None, now: datetime) -> bool:
        """Revoke an active key in scope; False when there is none (404). Both its tokens stop working."""
        update = (
            gateway_keys.update()
            .where(_C.id == key_id, _ACTIVE, *_in_scope(scope))
            .values(revoked_at=now, previous_token_hash=None, previous_token_expires_at=None)
        )

        async def run() -> bool:
            async with scoped_begin(self.engine, *_tenant(scope)) as conn:
                result = await conn.execute(update)
            return bool(result.rowcount)

        return await retry_busy(run)

    async def rotate(
        self,
        key_id: str,
        scope: TenantScope | None,
        token_hash: str,
        previous_expires_at: datetime | None,
        now: datetime,
    ) -> GatewayKey | None:
        """Give an active key in scope a new token hash; the old one stays valid until
        `previous_expires_at` (None: it ends now). None when there is no such key (404).

        Raises:
            TokenConflictError: the new token is some key's current or in-grace previous token.
        """

        async def run() -> GatewayKey | None:
            async with scoped_begin(self.engine, *_tenant(scope)) as conn:
                current = await self._active_row(conn, key_id, scope)
                if current is None:
                    return None
                if current.token_hash == token_hash or await self._in_grace(conn, token_hash, now):
                    raise TokenConflictError(key_id)
                values = {
                    "token_hash": token_hash,
                    "previous_token_hash": current.token_hash if previous_expires_at else None,
                    "previous_token_expires_at": previous_expires_at,
                }
                await conn.execute(gateway_keys.update().where(_C.id == key_id).values(**values))
            return GatewayKey(**{**_fields(current), **values})

        try:
            return await retry_busy(run)
        except sa_exc.IntegrityError as exc:
            raise TokenConflictError(key_id) from exc

    async def _active_row(
        self, conn: AsyncConnection, key_id: str, scope: TenantScope | None
    ) -> GatewayKey | None:
        query = sa.select(gateway_keys).where(_C.id == key_id, _ACTIVE, *_in_scope(scope))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = (await conn.execute(query)).mappings().first()
        return key_from_row(row) if row is not None else None

    async def _in_grace(self, conn: AsyncConnection, token_hash: str, now: datetime) -> bool:
        """Is `token_hash` some active key's rotated-out token that still works? A clash with any
        key's current token is left to the unique index on `token_hash` (it sees every tenant)."""
        in_grace = sa.and_(_C.previous_token_hash == token_hash, _ACTIVE, _C.previous_token_expires_at > now)
        return (await conn.execute(sa.select(_C.id).where(in_grace).limit(1))).first() is not None

    async def touch_last_used(self, used: Mapping[str, datetime]) -> None:
        """Batched `last_used_at` update (one statement, many rows); never moves a value backwards."""
        if not used:
            return
        update = (
            gateway_keys.update()
            .where(_C.id == sa.bindparam("key_id"))
            .where(sa.or_(_C.last_used_at.is_(None), _C.last_used_at < sa.bindparam("used_at")))
            .values(last_used_at=sa.bindparam("used_at"))
        )
        params = [{"key_id": key_id, "used_at": at} for key_id, at in sorted(used.items())]
        async with self.engine.begin() as conn:
            await conn.execute(update, params)


def _fields(key: GatewayKey) -> dict[str, Any]:
    return {name: getattr(key, name) for name in GatewayKey.__dataclass_fields__}


def _audit_row(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "created_at": event.created_at,
        "org_id": event.org_id,
        "workspace_id": event.workspace_id,
        "actor_key_id": event.actor_key_id,
        "action": event.action,
        "outcome": event.outcome,
        "reason": event.reason,
        "trace_id": event.trace_id,
        "correlation_id": event.correlation_id,
        "details": dict(event.details) or None,
    }


class SqlAuditLog:
    """Where the audit writer flushes its batches: one multi-row insert per batch."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def write_audit_events(self, events: Sequence[AuditEvent]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(audit_events.insert(), [_audit_row(e) for e in events])
