"""The SQLite head snapshot (store/snapshot.py): what the migrations produce, applied without Alembic."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ongoingai.store import MigrationState
from ongoingai.store import migrate as migrations
from ongoingai.store.engine import create_sqlite_engine, prepare_sqlite_file
from ongoingai.store.migrations import HEAD_REVISION
from ongoingai.store.snapshot import HEAD_SNAPSHOT, generate, statements
from tests.store.test_store_migrations import _schema_diff


async def _built(path: Path, revision: str = "head") -> None:
    prepare_sqlite_file(str(path))
    engine = create_sqlite_engine(str(path))
    try:
        await migrations.upgrade(engine, revision)
    finally:
        await engine.dispose()


def _objects(path: Path) -> list[tuple[Any, ...]]:
    """Every object SQLite holds, its own automatic indexes included, with the SQL that made it."""
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, less the columns that record when they were written."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})") if not r[1].endswith("_at")]
            listed = ", ".join(f'"{c}"' for c in columns)
            out[table] = sorted(conn.execute(f'SELECT {listed} FROM "{table}"').fetchall(), key=repr)
    return out


def test_the_shipped_snapshot_is_what_the_migrations_produce_now() -> None:
    assert HEAD_SNAPSHOT.read_text(encoding="utf-8") == generate(), (
        "a migration changed the SQLite schema: run `python -m ongoingai.store.snapshot` and commit the file"
    )


def test_the_snapshot_ends_at_this_builds_head() -> None:
    last = statements(HEAD_SNAPSHOT.read_text(encoding="utf-8"))[-1]
    assert last == f"INSERT INTO alembic_version (version_num) VALUES ('{HEAD_REVISION}')"


async def test_a_new_database_from_the_snapshot_equals_a_migrated_one(tmp_path: Path) -> None:
    migrated, snapshot = tmp_path / "migrated.db", tmp_path / "snapshot.db"
    await _built(migrated, HEAD_REVISION)  # a named revision: Alembic, from the first migration on
    await _built(snapshot)  # "head" on an empty file: the snapshot
    assert _objects(snapshot) == _objects(migrated)
    assert _rows(snapshot) == _rows(migrated)
    assert _rows(snapshot)["organizations"] == [("default", "Default Organization")]
    with sqlite3.connect(snapshot) as conn:
        (created,) = conn.execute("SELECT created_at FROM organizations").fetchone()
    assert created  # the column default ran when the snapshot was applied
    engine = create_sqlite_engine(str(snapshot))
    try:
        assert await migrations.migration_status(engine) is MigrationState.CURRENT
        async with engine.connect() as conn:
            assert await conn.run_sync(_schema_diff) == []
    finally:
        await engine.dispose()


async def test_a_database_holding_anything_is_left_to_alembic(tmp_path: Path) -> None:
    path = tmp_path / "used.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE operator_notes (note TEXT)")
        conn.execute("INSERT INTO operator_notes VALUES ('keep me')")
    await _built(path)
    engine = create_sqlite_engine(str(path))
    try:
        assert await migrations.migration_status(engine) is MigrationState.CURRENT
    finally:
        await engine.dispose()
    rows = _rows(path)
    assert rows["operator_notes"] == [("keep me",)]
    assert rows["organizations"] == [("default", "Default Organization")]


OPEN_STORE = """
import asyncio, sys
from ongoingai.config import Settings
from ongoingai.store import open_trace_store
async def main():
    store = await open_trace_store(Settings(storage={"driver": "sqlite", "path": sys.argv[1]}))
    print(await store.migration_status())
    await store.close()
asyncio.run(main())
print(sorted(m for m in ("alembic", "mako", "pygments") if m in sys.modules))
"""


def test_a_new_sqlite_store_starts_without_importing_alembic(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", OPEN_STORE, str(tmp_path / "new.db")]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["current", "[]"]


async def test_three_processes_starting_on_one_new_file_build_it_once(tmp_path: Path) -> None:
    path = tmp_path / "raced.db"
    argv = [sys.executable, "-c", OPEN_STORE, str(path)]
    starts = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)
    ]
    for start in starts:
        out, err = start.communicate(timeout=60)
        assert start.returncode == 0, err
        assert out.split()[0] == "current"
    reference = tmp_path / "reference.db"
    await _built(reference, HEAD_REVISION)
    assert _objects(path) == _objects(reference)
    assert _rows(path) == _rows(reference)


@pytest.mark.parametrize("revision", ["0001_create_traces", "0002_lineage_columns"])
async def test_a_database_at_an_earlier_revision_still_migrates_to_the_same_schema(
    tmp_path: Path, revision: str
) -> None:
    old, new = tmp_path / "old.db", tmp_path / "new.db"
    await _built(old, revision)
    await _built(old)
    await _built(new)
    assert _objects(old) == _objects(new)
