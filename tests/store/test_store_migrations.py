"""Migrations: an empty database and one at each earlier revision reach head, on both backends."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from ongoingai.config import Settings
from ongoingai.query.analytics import AnalyticsFilter
from ongoingai.query.analytics_totals import merge_cube, raw_usage_cube, usage_cube
from ongoingai.store import MigrationState, SqlTraceStore, open_trace_store
from ongoingai.store import migrate as migrations
from ongoingai.store.tables import metadata

REVISIONS = [
    rev.revision
    for rev in reversed(list(ScriptDirectory.from_config(migrations.alembic_config()).walk_revisions()))
]


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    return list(compare_metadata(context, metadata))


async def _insert_v1_row(store: SqlTraceStore) -> None:
    meta = orjson.dumps({"lineage_thread_id": "thread-old", "lineage_run_id": ""}).decode()
    postgres = store.driver == "postgres"
    values = "now(), CAST(:meta AS JSONB)" if postgres else "'2024-01-01 00:00:00.000000+00:00', :meta"
    sql = (
        "INSERT INTO traces (id, provider, model, request_method, request_path, timestamp, metadata)"
        f" VALUES ('old', 'openai', 'm', 'POST', '/openai/v1/x', {values})"
    )
    async with store.engine.begin() as conn:
        await conn.execute(sa.text(sql), {"meta": meta})


@pytest.fixture
async def empty_store(empty_store_settings: Settings) -> Any:
    store = await open_trace_store(empty_store_settings, migrate=False)
    yield store
    await store.close()


def test_the_history_is_linear_and_has_several_revisions() -> None:
    assert len(REVISIONS) >= 2
    assert migrations.head_revisions() == {REVISIONS[-1]}


async def test_an_empty_database_upgrades_to_head(empty_store: SqlTraceStore) -> None:
    assert await empty_store.migration_status() is MigrationState.BEHIND

    await empty_store.migrate()

    assert await empty_store.migration_status() is MigrationState.CURRENT
    async with empty_store.connect() as conn:
        assert await conn.run_sync(_schema_diff) == []


@pytest.mark.parametrize("start", REVISIONS[:-1])
async def test_a_database_at_an_earlier_revision_upgrades_to_head(
    empty_store: SqlTraceStore, start: str
) -> None:
    await migrations.upgrade(empty_store.engine, start)
    assert await empty_store.migration_status() is MigrationState.BEHIND
    await _insert_v1_row(empty_store)

    await empty_store.migrate()

    assert await empty_store.migration_status() is MigrationState.CURRENT
    async with empty_store.connect() as conn:
        assert await conn.run_sync(_schema_diff) == []
        row = (await conn.execute(sa.text("SELECT lineage_thread_id, lineage_run_id FROM traces"))).one()
    # The lineage back-fill belongs to 0002: a row inserted after it ran keeps NULL columns.
    backfilled = REVISIONS.index(start) < REVISIONS.index("0002_lineage_columns")
    assert tuple(row) == (("thread-old", None) if backfilled else (None, None))
    # So does the rollup back-fill to 0004: a row inserted behind the writer's back after it is not summed.
    if REVISIONS.index(start) < REVISIONS.index("0004_trace_rollups"):
        await _assert_rollups_back_filled(empty_store)


async def _assert_rollups_back_filled(store: SqlTraceStore) -> None:
    """0004 sums the stored traces into the hourly and daily rollups: the rollup-backed analytics then
    equal the raw ones (NULL figures count as 0, a NULL key hash as '')."""
    async with store.connect() as conn:
        counts = [
            (await conn.execute(sa.text(f"SELECT SUM(request_count), COUNT(*) FROM {table}"))).one()
            for table in ("trace_rollups_hourly", "trace_rollups_daily")
        ]
        cube = await usage_cube(conn, AnalyticsFilter())
        raw = merge_cube([await raw_usage_cube(conn, AnalyticsFilter())])
    assert [tuple(c) for c in counts] == [(1, 1), (1, 1)]
    assert cube == raw
    assert (cube[0].provider, cube[0].model, cube[0].api_key_hash, cube[0].request_count) == (
        "openai",
        "m",
        "",
        1,
    )


async def test_migrating_twice_changes_nothing(trace_store: SqlTraceStore) -> None:
    await trace_store.migrate()

    assert await trace_store.migration_status() is MigrationState.CURRENT


async def test_an_unknown_revision_is_reported_as_unknown(trace_store: SqlTraceStore) -> None:
    async with trace_store.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = 'from_the_future'"))

    assert await trace_store.migration_status() is MigrationState.UNKNOWN


@pytest.mark.postgres
async def test_instances_starting_together_migrate_one_after_another(
    postgres_dsn: str, tmp_path: Any
) -> None:
    from tests.fakes.storage import storage_settings

    settings = storage_settings("postgres", tmp_path, postgres_dsn)

    stores = await asyncio.gather(*(open_trace_store(settings) for _ in range(4)))

    try:
        assert [await s.migration_status() for s in stores] == [MigrationState.CURRENT] * 4
    finally:
        await asyncio.gather(*(s.close() for s in stores))


def test_head_revision_constant_matches_alembic() -> None:
    from ongoingai.store.migrate import head_revisions
    from ongoingai.store.migrations import HEAD_REVISION

    assert head_revisions() == {HEAD_REVISION}
