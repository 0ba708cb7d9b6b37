"""A Postgres outage under load, through a loopback relay switched off for a few seconds: nothing is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

from ongoingai.sink import BatchWriter, SpillJournal
from ongoingai.store import open_trace_store
from tests.fakes.storage import storage_settings
from tests.fakes.tcp_relay import TcpRelay
from tests.fakes.trace_records import make_record

pytestmark = pytest.mark.postgres


def through(dsn: str, port: int) -> str:
    parts = urlsplit(dsn)
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = netloc[0] + "@" if len(netloc) == 2 else ""
    return urlunsplit((parts.scheme, f"{userinfo}127.0.0.1:{port}", parts.path, parts.query, ""))


async def stored_ids(dsn: str, tmp_path: Path) -> list[str]:
    store = await open_trace_store(storage_settings("postgres", tmp_path, dsn), migrate=False)
    try:
        async with store.connect() as conn:
            return list((await conn.scalars(sa.text("SELECT id FROM traces"))).all())
    finally:
        await store.close()


async def test_a_postgres_outage_spills_and_replays_everything(postgres_dsn: str, tmp_path: Path) -> None:
    target = urlsplit(postgres_dsn)
    relay = TcpRelay(target.hostname or "127.0.0.1", target.port or 5432)
    port = await relay.start()
    store = await open_trace_store(storage_settings("postgres", tmp_path, through(postgres_dsn, port)))
    writer = BatchWriter(
        store,
        store_driver="postgres",
        journal=SpillJournal(tmp_path / "spill", 1 << 24),
        batch_size=16,
        flush_interval_ms=5,
        retry_initial_s=0.01,
        retry_max_s=0.2,
    )
    await writer.start()
    try:
        for n in range(50):
            writer.enqueue(make_record(n))
        async with asyncio.timeout(20):
            while len(await stored_ids(postgres_dsn, tmp_path)) < 50:
                await asyncio.sleep(0.01)

        relay.switch_off()
        for second in range(20):  # a trickle of load for ~2 s while the store is unreachable
            for n in range(10):
                writer.enqueue(make_record(1000 + second * 10 + n))
            await asyncio.sleep(0.1)
        async with asyncio.timeout(20):
            while writer.diagnostics()["spilled_total"] < 200:
                await asyncio.sleep(0.01)
        relay.switch_on()

        async with asyncio.timeout(30):
            while len(await stored_ids(postgres_dsn, tmp_path)) < 250:
                await asyncio.sleep(0.05)
        await writer.shutdown(5)
    finally:
        await writer.shutdown(5)
        await store.close()
        await relay.close()

    ids = await stored_ids(postgres_dsn, tmp_path)
    assert len(ids) == len(set(ids)) == 250
    d = writer.diagnostics()
    assert (d["write_dropped_total"], d["enqueue_dropped_total"]) == (0, 0)
    assert d["replayed_total"] == d["spilled_total"] >= 200
    assert d["spill_journal_depth"] == 0
    assert set(d["write_failures_by_class"]) <= {"connection", "timeout"}
