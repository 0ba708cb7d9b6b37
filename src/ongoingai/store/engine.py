"""Engines for the two backends: URLs, SQLite open-time rules and file permissions, the Postgres pool.

SQLite (traces-and-lineage.md §3): parent dir 0700 and file 0600 when we create them, WAL,
`synchronous=NORMAL`, `busy_timeout=5000`, and explicit `BEGIN` so DDL and batches are transactional.
Postgres: asyncpg through SQLAlchemy's pool, `storage.pool.max_size` connections at most and
`storage.pool.min_size` opened at start; connect timeout 5 s as the spec's ping.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ongoingai.config import Settings

CONNECT_TIMEOUT_S = 5.0
# A stuck statement must fail (class `timeout`) rather than stall the single writer forever.
COMMAND_TIMEOUT_S = 30.0
POOL_RECYCLE_S = 1800
# traces-and-lineage.md §3 open-time rules, on every SQLite connection. In WAL mode `synchronous=NORMAL`
# loses nothing when the process crashes (a commit is in the WAL once `COMMIT` returns) and never
# corrupts the file; only a power or OS failure may roll back the commits since the last checkpoint.
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000")
# The trace writer's own connection also keeps 8 MiB of pages (SQLite's default 2 MiB was measured at
# ~150 µs CPU per trace against ~95 µs: each insert touches ~22 index pages and re-read the evicted ones).
# The cache fills up under load and is counted in RSS: 16 MiB cost ~16 MB (issue 2: RSS ≤ 80 MB) for no
# writer throughput measurable over 8 MiB (bench/writer_bench.py, 50k traces: ~6,100/s for both, 4 MiB
# ~5,700/s, 2 MiB ~4,800/s).
# Its checkpoints run on a thread of their own (store/sqlite_writer.py); its auto-checkpoint at 64 MiB of
# WAL only bounds the file should that thread fall behind, and `journal_size_limit` shrinks it back after.
SQLITE_WRITER_PRAGMAS = ("cache_size=-8192", "wal_autocheckpoint=16384", "journal_size_limit=67108864")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def sqlite_url(path: str) -> URL:
    return URL.create("sqlite+aiosqlite", database=path)


def postgres_url(dsn: str) -> URL:
    """Accept `postgres://` / `postgresql://` DSNs as libpq users write them, for the asyncpg driver.

    `sslmode` becomes asyncpg's `ssl` and `connect_timeout` its `timeout`; the rest passes through.
    """
    parts = urlsplit(dsn.strip())
    if parts.scheme not in ("postgres", "postgresql", "postgresql+asyncpg"):
        raise ValueError("storage.dsn must be a postgres:// or postgresql:// URL")
    renames = {"sslmode": "ssl", "connect_timeout": "timeout"}
    query = [(renames.get(k, k), v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    rebuilt = urlunsplit(("postgresql+asyncpg", parts.netloc, parts.path, urlencode(query), ""))
    return make_url(rebuilt)


def prepare_sqlite_file(path: str) -> None:
    """Create the parent folder (0700) and the database file (0600) if they are missing."""
    db = Path(path)
    parent = db.parent
    if not parent.exists():
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        parent.chmod(0o700)
    if not db.exists():
        fd = os.open(db, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
        db.chmod(0o600)


def create_sqlite_engine(path: str) -> AsyncEngine:
    engine = create_async_engine(
        sqlite_url(path),
        json_serializer=_json_dumps,
        connect_args={"timeout": 5.0},
    )
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's implicit transactions skip DDL; take control and emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def open_sqlite_writer(path: str) -> sqlite3.Connection:
    """A plain sqlite3 connection for the trace writer thread; transactions are explicit (`BEGIN …`)."""
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    for pragma in (*SQLITE_PRAGMAS, *SQLITE_WRITER_PRAGMAS):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def create_postgres_engine(dsn: str, min_size: int, max_size: int) -> AsyncEngine:
    return create_async_engine(
        postgres_url(dsn),
        pool_size=max_size,
        max_overflow=0,
        pool_pre_ping=True,
        pool_recycle=POOL_RECYCLE_S,
        pool_timeout=CONNECT_TIMEOUT_S,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"timeout": CONNECT_TIMEOUT_S, "command_timeout": COMMAND_TIMEOUT_S},
    )


async def warm_pool(engine: AsyncEngine, count: int) -> None:
    """Open `count` connections at once and return them to the pool (`storage.pool.min_size`)."""
    conns = [await engine.connect() for _ in range(max(count, 1))]
    await asyncio.gather(*(conn.close() for conn in conns))


def create_engine_for(settings: Settings) -> AsyncEngine:
    storage = settings.storage
    if storage.driver == "postgres":
        pool = storage.pool
        return create_postgres_engine(storage.dsn.get_secret_value(), pool.min_size, pool.max_size)
    prepare_sqlite_file(storage.path)
    return create_sqlite_engine(storage.path)
