"""Opening the trace store for read-only commands (`report`, `debug`, `doctor`) with the gateway stopped.

Same config and store as `serve`, with two differences (DEVIATIONS.md "Migrations"): a read-only command
never migrates — when the schema is not at this build's head it stops with `schema behind` — and it
never creates a SQLite file that does not exist yet.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ongoingai.config import Settings
from ongoingai.store import MigrationState, SqlTraceStore, StoreUnavailable, open_trace_store

SCHEMA_BEHIND = "schema behind: the database predates this build; start `ongoingai serve` once to migrate it"
SCHEMA_UNKNOWN = "schema unknown: the database was migrated by a newer build of ongoingai"


class ReadOnlyStoreError(Exception):
    """Why the store cannot be read; the message is printed as is (exit 1)."""


def missing_sqlite_file(settings: Settings) -> str | None:
    """The configured SQLite path when the file does not exist (None otherwise, and on Postgres)."""
    storage = settings.storage
    if storage.driver == "sqlite" and not os.path.exists(storage.path):
        return storage.path
    return None


def schema_problem(state: MigrationState) -> str | None:
    if state is MigrationState.BEHIND:
        return SCHEMA_BEHIND
    if state is MigrationState.UNKNOWN:
        return SCHEMA_UNKNOWN
    return None


@asynccontextmanager
async def read_only_store(settings: Settings) -> AsyncIterator[SqlTraceStore]:
    """The opened store, closed on exit.

    Raises:
        ReadOnlyStoreError: the file is missing, the store cannot be opened, or the schema is not current.
    """
    if (path := missing_sqlite_file(settings)) is not None:
        raise ReadOnlyStoreError(f'failed to initialize trace store: sqlite database "{path}" does not exist')
    try:
        store = await open_trace_store(settings, migrate=False)
    except StoreUnavailable as exc:
        raise ReadOnlyStoreError(f"failed to initialize trace store: {exc}") from exc
    try:
        problem = schema_problem(await store.migration_status())
        if problem is not None:
            raise ReadOnlyStoreError(problem)
        yield store
    finally:
        await store.close()
