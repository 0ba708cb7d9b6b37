"""Run and inspect the Alembic migrations in code: no alembic.ini, scripts shipped inside the package.

`serve` upgrades at start (DEVIATIONS.md "Migrations"); read-only commands and `/api/ready` only ask
`migration_status`. On Postgres every run holds advisory lock 8067396491, so several instances that
start together migrate one after another (traces-and-lineage.md §3).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from ongoingai.store.migrations import HEAD_REVISION

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
ADVISORY_LOCK_KEY = 8067396491


class MigrationError(Exception):
    """Alembic refused to migrate (its `CommandError` is the `__cause__`): callers catch this one, so that
    importing the store does not import Alembic."""


class MigrationState(enum.StrEnum):
    CURRENT = "current"
    BEHIND = "behind"  # fewer revisions applied than this build ships (includes an empty database)
    UNKNOWN = "unknown"  # the database names a revision this build does not know (a newer build ran)


# Alembic (and the template engine it pulls in) costs ~0.3 s to import: it is imported only when the
# stored revision differs from HEAD_REVISION, so a gateway whose schema is current starts without it, and
# a new SQLite database gets the head schema from a snapshot of the migrations (store/snapshot.py).


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command
    from alembic.util import CommandError

    try:
        command.upgrade(alembic_config(connection), revision)
    except CommandError as exc:
        raise MigrationError(str(exc)) from exc


def _current(connection: Connection) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    return set(MigrationContext.configure(connection).get_current_heads())


async def stored_revisions(engine: AsyncEngine) -> set[str]:
    """The revisions recorded in `alembic_version` without importing Alembic (empty: a new database)."""
    async with engine.connect() as conn:
        try:
            result = await conn.execute(text("SELECT version_num FROM alembic_version"))
        except sa_exc.DBAPIError:
            return set()
        return {row[0] for row in result}


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision` in one transaction (Postgres: under the advisory lock)."""
    if revision == "head":
        stored = await stored_revisions(engine)
        if stored == {HEAD_REVISION}:
            return
        if not stored and engine.dialect.name == "sqlite":
            from ongoingai.store.snapshot import create_from_snapshot

            if await create_from_snapshot(engine):
                return
    postgres = engine.dialect.name == "postgresql"
    async with engine.connect() as conn:
        if postgres:
            await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            await conn.commit()
        try:
            await conn.run_sync(_upgrade, revision)
            await conn.commit()
        finally:
            if postgres:
                await conn.rollback()
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                await conn.commit()


async def current_revisions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def migration_status(engine: AsyncEngine) -> MigrationState:
    """Compare the database's revision with this build's head; raises if the database is unreachable."""
    if await stored_revisions(engine) == {HEAD_REVISION}:
        return MigrationState.CURRENT
    from alembic.script import ScriptDirectory

    current = await current_revisions(engine)
    if current == head_revisions():
        return MigrationState.CURRENT
    known = {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current - known:
        return MigrationState.UNKNOWN
    return MigrationState.BEHIND
