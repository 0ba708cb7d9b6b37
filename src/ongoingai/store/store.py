"""`SqlTraceStore`: the trace store on SQLite or Postgres, and `open_trace_store(settings)` that opens it.

The store owns the engine, the single-writer rule on SQLite, migrations and connectivity checks.
Reads go through `query/` with a connection from `store.connect()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ongoingai.config import Settings
from ongoingai.store import migrate as migrations
from ongoingai.store.engine import CONNECT_TIMEOUT_S, create_engine_for, warm_pool
from ongoingai.store.errors import StoreUnavailable
from ongoingai.store.sqlite_writer import SqliteInserter
from ongoingai.store.writes import DRIVER_ERRORS, Inserter, PostgresInserter, WriteResult, write_records
from ongoingai.traces import TraceRecord

logger = logging.getLogger(__name__)


class SqlTraceStore:
    """The `traces` table behind one engine. Build it with `open_trace_store`."""

    def __init__(self, engine: AsyncEngine, driver: str, path: str | None = None) -> None:
        self.engine = engine
        self.driver = driver
        self.path = path
        self._sqlite: SqliteInserter | None = None
        self._postgres: PostgresInserter | None = None
        self._insert: Inserter
        if driver == "sqlite":
            self._sqlite = SqliteInserter(path or str(engine.url.database))
            self._insert = self._sqlite
        else:
            self._postgres = PostgresInserter(engine)
            self._insert = self._postgres
        # SQLite allows one writer at a time: ours are serialised by the inserter's thread (which
        # group-commits batches handed over together), other processes are retried (`busy_timeout`,
        # then `insert_with_retry`). No lock here: it would keep a second batch from joining.

    async def write_batch(self, records: Sequence[TraceRecord], *, idempotent: bool = False) -> WriteResult:
        """Insert records (traces-and-lineage.md §4 "Write"); failures come back classified, not raised.

        `idempotent=True` skips records whose id is already stored (used when replaying the spill journal).
        """
        return await write_records(self._insert, records, idempotent=idempotent)

    def connect(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A read connection for `query/` functions."""
        return self.engine.connect()

    async def ping(self) -> None:
        """Raises:
        StoreUnavailable: the database did not answer `SELECT 1` within the connect timeout.
        """
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (TimeoutError, *DRIVER_ERRORS) as exc:
            raise StoreUnavailable(f"{self.driver} storage is unreachable: {type(exc).__name__}") from exc

    async def migrate(self) -> None:
        """Upgrade the schema to this build's head (serialised by an advisory lock on Postgres)."""
        await migrations.upgrade(self.engine)

    async def migration_status(self) -> migrations.MigrationState:
        """`current`, `behind` (schema behind: needs `serve` to migrate) or `unknown` (a newer build ran)."""
        return await migrations.migration_status(self.engine)

    def db_size_bytes(self) -> int:
        """Size of the SQLite file (0 on Postgres or when it cannot be read)."""
        if self.path is None:
            return 0
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    async def close(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.close()
        if self._postgres is not None:
            await self._postgres.close()
        await self.engine.dispose()


async def open_trace_store(settings: Settings, *, migrate: bool = True) -> SqlTraceStore:
    """Open the configured store (`storage.driver`), check it answers, and migrate unless told not to.

    `serve` calls it with `migrate=True`; read-only CLI commands pass `migrate=False` and ask
    `migration_status()` to report `schema behind`.

    Raises:
        StoreUnavailable: the database cannot be opened, reached or migrated; the message says why.
    """
    driver = settings.storage.driver
    try:
        engine = create_engine_for(settings)
    except (OSError, ValueError) as exc:
        raise StoreUnavailable(f"open {driver} storage: {exc}") from exc
    store = SqlTraceStore(engine, driver, settings.storage.path if driver == "sqlite" else None)
    try:
        if driver == "postgres":
            async with asyncio.timeout(CONNECT_TIMEOUT_S * 2):
                await warm_pool(engine, settings.storage.pool.min_size)
        await store.ping()
        if migrate:
            await store.migrate()
    except (TimeoutError, *DRIVER_ERRORS, migrations.MigrationError, StoreUnavailable) as exc:
        await store.close()
        if isinstance(exc, StoreUnavailable):
            raise
        cause = exc.__cause__ if isinstance(exc, migrations.MigrationError) else exc  # Alembic's own error
        raise StoreUnavailable(f"open {driver} storage: {type(cause).__name__}: {cause}") from exc
    return store
