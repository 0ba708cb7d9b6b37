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
import contextlib
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ongoingai.store.engine import SQLITE_PRAGMAS, open_sqlite_writer
from ongoingai.store.rollup import add_to_rollups_sqlite, unstored_rows_sqlite
from ongoingai.store.rows import row_from_record
from ongoingai.store.writes import joins_group, sqlite_params, sqlite_rows_sql
from ongoingai.traces import TraceRecord

logger = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_S = 0.2
# Rows per INSERT statement (store/writes.py `sqlite_rows_sql`): 64 × 27 columns stays far below SQLite's
# smallest default limit on bound variables (32,766), and the writer's default batch is one statement.
ROWS_PER_STATEMENT = 64


@dataclass(slots=True)
class _Job:
    """One caller's batch waiting for the writer thread, and how to hand the outcome back to its loop."""

    records: Sequence[TraceRecord]
    idempotent: bool
    done: asyncio.Future[None]
    loop: asyncio.AbstractEventLoop

    def settle(self, error: BaseException | None) -> None:
        def deliver() -> None:
            if self.done.done():  # the caller was cancelled meanwhile
                return
            if error is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(error)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self.loop.call_soon_threadsafe(deliver)


class SqliteInserter:
    """An `Inserter` (store/writes.py) for one SQLite file. `close()` it with the store."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ongoingai-sqlite-writer")
        self._conn: sqlite3.Connection | None = None  # opened, used and closed on the thread only
        self._jobs: deque[_Job] = deque()  # appended on the loop, taken on the thread (deque is atomic)
        self.transactions = 0  # committed so far: how many batches shared one is visible to tests and benches
        self._committed = threading.Event()
        self._closing = False
        self._checkpointer: threading.Thread | None = None

    async def __call__(self, records: Sequence[TraceRecord], idempotent: bool) -> None:
        # If the awaiting task is cancelled (shutdown timeout) the thread still finishes the transaction;
        # the writer then journals the batch and the replay's idempotent insert skips what landed.
        loop = asyncio.get_running_loop()
        job = _Job(records, idempotent, loop.create_future(), loop)
        self._jobs.append(job)
        self._executor.submit(self._commit_waiting)
        await job.done

    def _commit_waiting(self) -> None:
        """Insert every batch waiting, and those that arrive meanwhile, in one transaction: group commit.

        The writer has several batches in flight (sink/batch_writer.py `WRITES_IN_FLIGHT`); a batch
        handed over while a transaction is inserting joins it before the COMMIT (up to
        store/writes.py `GROUP_MAX_ROWS`).
        A commit's cost is mostly the index pages it dirties, and consecutive batches dirty many of the
        same ones (bench/writer_bench.py: 64 rows per transaction ~64 µs CPU per row, 256 rows ~49 µs).
        One failure fails every batch of the transaction; each caller then retries or splits its own
        (store/writes.py).
        """
        first = self._take_job(0)
        if first is None:
            return  # an earlier call took this one's batch into its transaction
        # Taken before the connection is opened and the lock taken: a failure there reaches this caller.
        jobs = [first]
        try:
            self._insert(jobs)
        except BaseException as exc:
            for job in jobs:
                job.settle(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            for job in jobs:
                job.settle(None)

    def _take_job(self, rows: int) -> _Job | None:
        """The next waiting batch: any when the transaction is empty (`rows == 0`), else one that may
        join it (store/writes.py `joins_group`: never a one-record batch, the record-by-record retry)."""
        if self._jobs and (rows == 0 or joins_group(rows, len(self._jobs[0].records))):
            return self._jobs.popleft()
        return None

    def _insert(self, jobs: list[_Job]) -> None:
        """Inserts `jobs`, appending those that join meanwhile, so the caller can answer each."""
        now = datetime.now(UTC)
        if self._conn is None:
            self._conn = open_sqlite_writer(self._path)
            self._start_checkpointer()
        conn = self._conn
        # IMMEDIATE takes the write lock up front, so a replay's read (stored ids) never has to upgrade.
        conn.execute("BEGIN IMMEDIATE")
        rows = 0
        taken = 0
        counted: list[Mapping[str, Any]] = []  # the rows this transaction adds to the rollups
        try:
            while True:
                if taken == len(jobs):  # all inserted: take a batch that arrived meanwhile, if any
                    joining = self._take_job(rows)
                    if joining is None:
                        break
                    jobs.append(joining)
                job = jobs[taken]
                taken += 1
                rows += len(job.records)
                converted = [row_from_record(record, now) for record in job.records]
                # A replay's already-stored traces are asked for before its insert, then left out.
                counted.extend(unstored_rows_sqlite(conn, converted) if job.idempotent else converted)
                for start in range(0, len(converted), ROWS_PER_STATEMENT):
                    chunk = converted[start : start + ROWS_PER_STATEMENT]
                    values = [value for row in chunk for value in sqlite_params(row)]
                    conn.execute(sqlite_rows_sql(job.idempotent, len(chunk)), values)
            add_to_rollups_sqlite(conn, counted)  # same transaction, summed over all its batches
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.transactions += 1
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
