"""`SqliteInserter`: every trace batch of this process goes through one thread and one sqlite3 connection.

Why a thread of its own: through SQLAlchemy and aiosqlite a batch cost ~1 ms of event-loop CPU before
SQLite did any work (BEGIN, INSERT and COMMIT each a round trip to aiosqlite's thread, plus pool and
greenlet bookkeeping) against ~12 µs here, and the event loop is the proxy's. Now one hand-off per batch
carries the row conversion, the transaction and the rollup upsert, and SQLite's B-tree work (most of the
cost: ~22 indexes per trace) runs with the GIL released. One thread is also the spec's "serialise writes"
(traces-and-lineage.md §3); other processes are waited for by `busy_timeout`, then retried by the caller.

Checkpoints run on a second thread, `CHECKPOINT_INTERVAL_S` after a commit: SQLite's own auto-checkpoint
(every 1000 WAL pages, i.e. every 2–3 batches here, since a batch of 64 dirties ~400 index pages) ran on the
writer's thread and, copying and fsyncing the same hot pages again and again, took more wall time than the
inserts (measured ~500 µs against ~180 µs per trace on this VM's disk). A PASSIVE checkpoint never blocks
the writer. The writer connection keeps a large auto-checkpoint as a bound on the WAL should this thread
fall behind. Durability: a process crash still loses no commit (each is in the WAL when `COMMIT`
returns). With `synchronous=NORMAL` the commits since the last checkpoint are exposed to a power or OS
failure; that window is now bounded in time (the interval plus one checkpoint) rather than in pages:
shorter at low traffic, where 1000 pages could take minutes to fill, a fraction of a second longer at
full load.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from ongoingai.store.engine import SQLITE_PRAGMAS, open_sqlite_writer
from ongoingai.store.rollup import add_to_rollups_sqlite
from ongoingai.store.rows import row_from_record
from ongoingai.store.writes import insert_sql, sqlite_params
from ongoingai.traces import TraceRecord

logger = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_S = 0.2


class SqliteInserter:
    """An `Inserter` (store/writes.py) for one SQLite file. `close()` it with the store."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ongoingai-sqlite-writer")
        self._conn: sqlite3.Connection | None = None  # opened, used and closed on the thread only
        self._committed = threading.Event()
        self._closing = False
        self._checkpointer: threading.Thread | None = None

    async def __call__(self, records: Sequence[TraceRecord], idempotent: bool) -> None:
        # If the awaiting task is cancelled (shutdown timeout) the thread still finishes the transaction;
        # the writer then journals the batch and the replay's idempotent insert skips what landed.
        await asyncio.get_running_loop().run_in_executor(self._executor, self._insert, records, idempotent)

    def _insert(self, records: Sequence[TraceRecord], idempotent: bool) -> None:
        now = datetime.now(UTC)
        rows = [row_from_record(record, now) for record in records]
        params = [sqlite_params(row) for row in rows]
        if self._conn is None:
            self._conn = open_sqlite_writer(self._path)
            self._start_checkpointer()
        conn = self._conn
        # IMMEDIATE takes the write lock up front, so a replay's read (stored ids) never has to upgrade.
        conn.execute("BEGIN IMMEDIATE")
        try:
            add_to_rollups_sqlite(conn, rows, skip_stored=idempotent)  # same transaction as the insert
            conn.executemany(insert_sql("sqlite", idempotent), params)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._committed.set()

    def _start_checkpointer(self) -> None:
        # A daemon: a store nobody closed must not keep the process alive; an interrupted checkpoint is
        # harmless (the WAL still holds every frame).
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="ongoingai-sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        conn = sqlite3.connect(self._path, timeout=5.0, isolation_level=None)
        try:
            for pragma in SQLITE_PRAGMAS:
                conn.execute(f"PRAGMA {pragma}")
            # `_closing` is checked after `clear()` and before waiting again, so a close that lands while
            # we sleep is never lost.
            while not self._closing:
                self._committed.wait()
                time.sleep(CHECKPOINT_INTERVAL_S)  # let commits pile up: each page is copied once
                self._committed.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    logger.warning("background WAL checkpoint failed; the writer's auto-checkpoint remains")
        finally:
            conn.close()

    def _close_connection(self) -> None:
        self._closing = True
        self._committed.set()
        if self._checkpointer is not None:
            self._checkpointer.join()
            self._checkpointer = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def close(self) -> None:
        """Close the connection on its thread and stop the thread (idempotent)."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._close_connection)
        except RuntimeError:  # already shut down
            return
        await asyncio.to_thread(self._executor.shutdown, wait=True)
