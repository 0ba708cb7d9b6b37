"""Shared fixtures. Storage: a `backend` parameter (sqlite, postgres) and settings/stores built on it.

Postgres (DEVIATIONS.md "Tests against Postgres"): one database per test session, created and dropped
here, schema reset before each test that asks for it. The server DSN defaults to the local trust-auth
server and can be overridden with ONGOINGAI_TEST_POSTGRES_DSN. When no server answers, Postgres cases
skip with a reason locally and fail under CI=true. Add fixtures for other concerns below; keep these.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from ongoingai.config import Settings
from ongoingai.store import SqlTraceStore, open_trace_store
from tests.fakes.sdk import close_all as close_sdk_clients
from tests.fakes.storage import storage_settings

DEFAULT_SERVER_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(autouse=True)
def _close_sdk_clients() -> Iterator[None]:
    """Close the official SDK clients a test built (tests/fakes/sdk.py) before the next test starts."""
    yield
    close_sdk_clients()


def server_dsn() -> str:
    return os.environ.get("ONGOINGAI_TEST_POSTGRES_DSN") or DEFAULT_SERVER_DSN


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


async def _create_database(name: str) -> None:
    conn = await asyncpg.connect(server_dsn(), timeout=3)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_database(name: str) -> None:
    conn = await asyncpg.connect(server_dsn(), timeout=3)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def reset_schema(dsn: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=3)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_session_dsn() -> Iterator[str]:
    """DSN of a database created for this test session (dropped at the end)."""
    name = "ongoingai_test_" + secrets.token_hex(6)
    try:
        asyncio.run(_create_database(name))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        where = urlsplit(server_dsn())
        reason = f"no PostgreSQL server at {where.hostname}:{where.port}: {type(exc).__name__}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: Postgres tests must run)")
        pytest.skip(reason)
    yield with_database(server_dsn(), name)
    asyncio.run(_drop_database(name))


async def empty_tables_or_reset(dsn: str) -> None:
    """Empty every table when the schema is at this build's head (fast); otherwise reset the schema."""
    from ongoingai.store.migrate import head_revisions

    conn = await asyncpg.connect(dsn, timeout=3)
    try:
        try:
            current = {r["version_num"] for r in await conn.fetch("SELECT version_num FROM alembic_version")}
        except asyncpg.UndefinedTableError:
            current = set()
        if current != head_revisions():
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            return
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        if tables:
            await conn.execute("TRUNCATE " + ", ".join(f'"{t["tablename"]}"' for t in tables) + " CASCADE")
    finally:
        await conn.close()


@pytest.fixture
def postgres_dsn(postgres_session_dsn: str) -> str:
    """The session database with an empty `public` schema (no tables, no migrations)."""
    asyncio.run(reset_schema(postgres_session_dsn))
    return postgres_session_dsn


@pytest.fixture
def postgres_migrated_dsn(postgres_session_dsn: str) -> str:
    """The session database with no rows; already migrated when an earlier test left it at head."""
    asyncio.run(empty_tables_or_reset(postgres_session_dsn))
    return postgres_session_dsn


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings for a store with no rows (Postgres may already be at head: migrating is then a no-op)."""
    dsn = request.getfixturevalue("postgres_migrated_dsn") if backend == "postgres" else ""
    return storage_settings(backend, tmp_path, dsn)


@pytest.fixture
def empty_store_settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings for a database with no schema at all (migration tests, `schema behind`)."""
    dsn = request.getfixturevalue("postgres_dsn") if backend == "postgres" else ""
    return storage_settings(backend, tmp_path, dsn)


@pytest.fixture
async def trace_store(store_settings: Settings) -> AsyncIterator[SqlTraceStore]:
    """An open, migrated store on the parametrised backend."""
    store = await open_trace_store(store_settings)
    yield store
    await store.close()
