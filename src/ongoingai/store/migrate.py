"""Run and inspect the Alembic migrations in code: no alembic.ini, scripts shipped inside the package.

`serve` upgrades at start (DEVIATIONS.md "Migrations"); read-only commands and `/api/ready` only ask
`migration_status`. On Postgres every run holds advisory lock 8067396491, so several instances that
start together migrate one after another (traces-and-lineage.md §3).
"""

from __future__ import annotations

import enum
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
ADVISORY_LOCK_KEY = 8067396491


class MigrationState(enum.StrEnum):
    CURRENT = "current"
    BEHIND = "behind"  # fewer revisions applied than this build ships (includes an empty database)
    UNKNOWN = "unknown"  # the database names a revision this build does not know (a newer build ran)


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def _current(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision` in one transaction (Postgres: under the advisory lock)."""
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
    current = await current_revisions(engine)
    heads = head_revisions()
    if current == heads:
        return MigrationState.CURRENT
    known = {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current - known:
        return MigrationState.UNKNOWN
    return MigrationState.BEHIND
