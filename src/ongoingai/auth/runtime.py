"""`AuthRuntime`: the auth parts of one gateway process and their start/stop order.

Built from settings by `app.build_gateway`; `start(engine)` runs in the server's lifespan once the store
is open: config keys are hashed (startup errors of auth-and-tenancy.md §1–2), the audit writer starts,
the database key store is attached (`auth.key_store: database`), and with auth enabled the key cache
is loaded (a failure or zero keys is fatal) and, for database keys, refreshed every
`auth.cache.refresh_interval_s` by one owned task that also flushes `last_used_at`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from ongoingai.auth.audit import AuditWriter
from ongoingai.auth.cache import KeyCache
from ongoingai.auth.guard import AuthGuard
from ongoingai.auth.keys import GatewayKey
from ongoingai.auth.last_used import LastUsedRecorder
from ongoingai.auth.lifecycle import KeyLifecycle
from ongoingai.auth.stores import AuthConfigError, SqlAuditLog, SqlKeyStore, load_config_keys
from ongoingai.config import Settings
from ongoingai.limits import Limiter
from ongoingai.store.tenancy import bypasses_row_level_security
from ongoingai.store.writes import DRIVER_ERRORS

logger = logging.getLogger(__name__)

AUDIT_SHUTDOWN_TIMEOUT_S = 2.0
REFRESH_STOP_TIMEOUT_S = 5.0


class AuthStartupError(Exception):
    """Auth cannot start; the message is what `serve` prints before exiting 1."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AuthRuntime:
    def __init__(
        self,
        settings: Settings,
        *,
        tenant_scope_key: str,
        providers: Iterable[str],
        api_headers: Iterable[tuple[bytes, bytes]] = (),
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        clock: Callable[[], datetime] = _utcnow,
        limits: Limiter | None = None,
    ) -> None:
        auth = settings.auth
        self.settings = settings
        self.enabled = auth.enabled
        self.database = auth.key_store == "database"
        self.refresh_interval_s = auth.cache.refresh_interval_s
        self.config_keys: tuple[GatewayKey, ...] = ()
        self.sql: SqlKeyStore | None = None
        self.audit = AuditWriter(clock=clock)
        self.last_used = LastUsedRecorder(wall)
        staleness = auth.cache.max_staleness_s if self.database else None
        self.cache = KeyCache(self, max_staleness_s=staleness, monotonic=monotonic, wall=wall)
        self.keys = KeyLifecycle(
            auth_enabled=self.enabled,
            database=self.database,
            cache=self.cache,
            last_used=self.last_used,
            clock=clock,
        )
        self.guard: AuthGuard | None = None
        if self.enabled:
            self.guard = AuthGuard(
                header=auth.header,
                cache=self.cache,
                audit=self.audit,
                last_used=self.last_used,
                providers=providers,
                tenant_scope_key=tenant_scope_key,
                api_headers=api_headers,
                limits=limits,
            )
        self._task: asyncio.Task[None] | None = None
        self.refresh_stop_timeout_s = REFRESH_STOP_TIMEOUT_S
        self._tasks = contextlib.AsyncExitStack()
        self._group: asyncio.TaskGroup | None = None
        self._stopping = asyncio.Event()

    async def active_keys(self) -> list[GatewayKey]:
        """The cache's source: config keys, plus the active `gateway_keys` rows in database mode."""
        keys = list(self.config_keys)
        if self.sql is not None:
            keys.extend(await self.sql.active_keys())
        return keys

    async def start(self, engine: AsyncEngine | None) -> None:
        """Raises:
        AuthStartupError: bad `auth.keys`, the key store did not answer, or auth has no keys at all.
        """
        try:
            self.config_keys = load_config_keys(self.settings.auth.keys, strict=self.enabled)
        except AuthConfigError as exc:
            raise AuthStartupError(f"failed to initialize auth config: {exc}") from exc
        self.keys.config_keys = self.config_keys
        # The runtime's background tasks live in this group: stop() ends them and leaves it, which
        # awaits every one of them (STYLE.md: each task has an owner that awaits it on shutdown).
        self._group = await self._tasks.enter_async_context(asyncio.TaskGroup())
        if engine is not None:
            self.audit.start(SqlAuditLog(engine), self._group)
            if self.database:
                self.sql = SqlKeyStore(engine)
                self.keys.sql = self.sql
        if not self.enabled:
            return
        try:
            await self._load()
            if engine is not None:
                await self._check_row_level_security(engine)
        except AuthStartupError:
            await self.stop()  # the server runs no stop hook after a failed start: end the tasks here
            raise
        if self.sql is not None:
            self._task = self._group.create_task(self._refresh_loop(), name="ongoingai-key-cache-refresh")

    async def _load(self) -> None:
        try:
            count = await self.cache.refresh()
        except DRIVER_ERRORS as exc:
            raise AuthStartupError(f"failed to initialize gateway key store: {type(exc).__name__}") from exc
        if count == 0:
            raise AuthStartupError(
                "failed to initialize auth config: auth is enabled but no gateway keys are configured"
            )
        logger.info(
            "loaded gateway keys",
            extra={
                "key_store": self.settings.auth.key_store,
                "key_count": count,
                "config_key_count": len(self.config_keys),
            },
        )

    async def _check_row_level_security(self, engine: AsyncEngine) -> None:
        """Tenant reads rely on Postgres RLS as a second wall; say so when the role is exempt from it."""
        try:
            exempt = await bypasses_row_level_security(engine)
        except DRIVER_ERRORS as exc:
            raise AuthStartupError(f"failed to initialize gateway key store: {type(exc).__name__}") from exc
        if exempt:
            logger.warning(
                "postgres role bypasses row-level security; tenant isolation rests on query filters alone",
                extra={"hint": "connect as a NOSUPERUSER NOBYPASSRLS role"},
            )

    async def _refresh_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._stopping.wait(), self.refresh_interval_s)
                return
            except TimeoutError:
                pass
            try:
                await self.last_used.flush(self.sql)
                await self.cache.refresh()
            except Exception as exc:  # a background worker: it must outlive any one failed refresh
                logger.warning(
                    "failed to refresh gateway key cache", extra={"error_kind": type(exc).__name__}
                )

    async def stop(self) -> None:
        """Stop the refresh task, flush `last_used_at`, write the queued audit records, then leave the
        task group, which awaits every task it holds. Safe to call twice, or without `start`."""
        if self._task is not None:
            # Let a refresh in flight finish (cancelling it mid-query would strand its connection);
            # past the timeout it is cancelled all the same.
            self._stopping.set()
            done, _ = await asyncio.wait({self._task}, timeout=self.refresh_stop_timeout_s)
            if not done:
                logger.warning("gateway key cache refresh did not stop in time; cancelled")
                self._task.cancel()
            self._task = None
        await self.last_used.flush(self.sql)
        await self.audit.shutdown(AUDIT_SHUTDOWN_TIMEOUT_S)
        await self._tasks.aclose()
        self._group = None
