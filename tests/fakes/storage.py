"""`storage_settings`: Settings for a store on one backend, with the spill journal in the test's tmp dir;
`rollup_sums`: what the rollup tables hold, to check against the traces written."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ongoingai.config import Settings


def storage_settings(backend: str, tmp_path: Path, dsn: str = "", **tracing: object) -> Settings:
    if backend == "postgres":
        storage: dict[str, object] = {
            "driver": "postgres",
            "dsn": dsn,
            "pool": {"min_size": 1, "max_size": 5},
        }
    else:
        storage = {"driver": "sqlite", "path": str(tmp_path / "data" / "ongoingai.db")}
    spill = {"path": str(tmp_path / "spill")}
    return Settings(storage=storage, tracing={"spill": spill, **tracing})


async def rollup_sums(conn: AsyncConnection) -> list[tuple[int, int]]:
    """(request count, input tokens) summed over the hourly rollups, then over the daily ones."""
    sums = []
    for table in ("trace_rollups_hourly", "trace_rollups_daily"):
        query = sa.text(f"SELECT sum(request_count), sum(input_tokens) FROM {table}")
        row = (await conn.execute(query)).one()
        sums.append((int(row[0]), int(row[1])))
    return sums
