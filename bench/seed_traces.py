"""Seed N realistic traces into a SQLite file or a Postgres database for the read-side benchmark.

    .venv/bin/python bench/seed_traces.py --sqlite /tmp/bench.db --count 1000000
    .venv/bin/python bench/seed_traces.py --postgres postgresql://postgres@127.0.0.1:5432/ongoingai_bench

The schema comes from the gateway's own migrations: the database is migrated to the revision before the
rollups (`--bulk-revision`), the traces are bulk-loaded (SQLite: `executemany` in large transactions;
Postgres: binary COPY), then the store is migrated to head, so the newest revisions' back-fills run
exactly as they would for an operator upgrading a full database. Data: 30 days of traffic with a
daily rhythm, six tenants, two providers and nine models, sixty gateway keys each with one or two provider
credentials, a skewed status mix, lineage groups with threads and runs, token counts and latencies with
long tails, and bodies on a tenth of the traces. Deterministic for a given `--seed`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from ongoingai.config import Settings
from ongoingai.store import migrate as migrations
from ongoingai.store import open_trace_store
from ongoingai.store.columns import format_sqlite_time
from ongoingai.store.tables import traces

COLUMNS = [column.name for column in traces.columns]
END = datetime(2025, 6, 30, tzinfo=UTC)
DAYS = 30
BULK_REVISION = "0003_tenancy_keys_audit"
CHUNK = 50_000

# (provider, path, model, USD per 1M input tokens, USD per 1M output tokens, weight)
MODELS = (
    ("openai", "/openai/v1/chat/completions", "gpt-4o", 2.5, 10.0, 20),
    ("openai", "/openai/v1/chat/completions", "gpt-4o-mini", 0.15, 0.6, 30),
    ("openai", "/openai/v1/chat/completions", "o3-mini", 1.1, 4.4, 6),
    ("openai", "/openai/v1/responses", "gpt-4.1", 2.0, 8.0, 8),
    ("openai", "/openai/v1/embeddings", "text-embedding-3-small", 0.02, 0.0, 6),
    ("anthropic", "/anthropic/v1/messages", "claude-sonnet-4-20250514", 3.0, 15.0, 14),
    ("anthropic", "/anthropic/v1/messages", "claude-3-5-haiku-20241022", 0.8, 4.0, 10),
    ("anthropic", "/anthropic/v1/messages", "claude-opus-4-20250514", 15.0, 75.0, 2),
    ("openai", "/openai/v1/chat/completions", "unknown", 0.0, 0.0, 1),
)
TENANTS = (
    ("default", "default", 40),
    ("acme", "prod", 25),
    ("acme", "staging", 8),
    ("globex", "prod", 15),
    ("globex", "research", 7),
    ("initech", "default", 5),
)
STATUSES = ((200, 900), (400, 15), (401, 5), (404, 3), (429, 40), (500, 12), (502, 10), (503, 8), (504, 7))


@dataclass(frozen=True, slots=True)
class Key:
    gateway_key_id: str
    org_id: str
    workspace_id: str
    credential_hashes: tuple[str, ...]
    model_weights: tuple[int, ...]


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_keys(rng: random.Random) -> list[tuple[Key, float]]:
    """Sixty gateway keys spread over the tenants, each with its own model habits; Zipf-like traffic."""
    out = []
    for i in range(60):
        org, workspace, _ = rng.choices(TENANTS, weights=[t[2] for t in TENANTS])[0]
        hashes = tuple(_hash(f"credential-{i}-{j}") for j in range(rng.choice((1, 1, 2))))
        weights = tuple(w if rng.random() < 0.6 else 0 for *_, w in MODELS)
        if not any(weights):
            weights = tuple(w for *_, w in MODELS)
        out.append((Key(f"gk_{i:04d}", org, workspace, hashes, weights), 1.0 / (i + 1) ** 0.8))
    return out


def _headers(trace_id: str) -> tuple[str, str]:
    request = {
        "Content-Type": ["application/json"],
        "Authorization": ["[REDACTED]"],
        "User-Agent": ["OpenAI/Python 1.55.0"],
        "X-Ongoingai-Correlation-Id": [trace_id[:16]],
    }
    response = {"Content-Type": ["application/json"], "X-Request-Id": ["req_" + trace_id[:24]]}
    return orjson.dumps(request).decode(), orjson.dumps(response).decode()


class Lineage:
    """Open lineage groups: a third of traces continue one (same group, thread and run, next seq)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._open: list[list[Any]] = []
        self._next = 0

    def next(self) -> tuple[str | None, str | None, str | None, int]:
        rng = self._rng
        if rng.random() > 0.35:
            return None, None, None, 0
        if not self._open or rng.random() < 0.08:
            self._next += 1
            n = self._next
            self._open.append([f"grp_{n:08d}", f"thread_{n:08d}", f"run_{n:08d}", 0])
            if len(self._open) > 200:
                self._open.pop(0)
        entry = rng.choice(self._open)
        entry[3] += 1
        return entry[0], entry[1], entry[2], entry[3]


def _timestamps(rng: random.Random, count: int) -> list[datetime]:
    """`count` instants over the 30 days before END with a daily rhythm (busier in working hours)."""
    start = END - timedelta(days=DAYS)
    out = []
    while len(out) < count:
        offset = rng.random() * DAYS * 86400
        hour = (offset / 3600) % 24
        if rng.random() < 0.35 + 0.65 * math.sin(math.pi * max(0.0, min(1.0, (hour - 6) / 14))):
            out.append(start + timedelta(seconds=offset))
    out.sort()
    return out


def generate(count: int, seed: int) -> Iterator[dict[str, Any]]:
    """Rows in insert order (time order, as a live gateway writes them), column name → value."""
    rng = random.Random(seed)
    keys = make_keys(rng)
    key_weights = [w for _, w in keys]
    statuses, status_weights = zip(*STATUSES, strict=True)
    lineage = Lineage(rng)
    for n, at in enumerate(_timestamps(rng, count)):
        key = rng.choices(keys, weights=key_weights)[0][0]
        provider, path, model, in_rate, out_rate, _ = rng.choices(MODELS, weights=key.model_weights)[0]
        status = rng.choices(statuses, weights=status_weights)[0]
        ok = status < 400
        streaming = path != "/openai/v1/embeddings" and rng.random() < 0.5
        input_tokens = int(rng.lognormvariate(6.5, 1.2)) if status != 401 else 0
        output_tokens = int(rng.lognormvariate(5.5, 1.0)) if ok and "embeddings" not in path else 0
        latency = int(rng.lognormvariate(6.8, 0.8)) if status not in (504,) else 600_000
        ttft = int(latency * rng.uniform(0.05, 0.4)) if streaming and ok else 0
        cost = (input_tokens * in_rate + output_tokens * out_rate) / 1_000_000
        trace_id = f"{rng.getrandbits(128):032x}"
        group, thread, run, seq = lineage.next()
        metadata: dict[str, Any] = {
            "streaming": streaming,
            "stream_chunks": output_tokens // 4 if streaming else 0,
            "redaction_mode": "redact_storage",
            "redaction_policy_id": "default/v1",
            "redaction_applied": True,
            "lineage_checkpoint_id": trace_id,
            "lineage_immutable": True,
            "api_key_last4": key.credential_hashes[0][-4:],
            "gateway_key_id": key.gateway_key_id,
            "org_id": key.org_id,
            "workspace_id": key.workspace_id,
            "correlation_id": trace_id[:16],
            "cost_status": "priced" if in_rate else "unpriced",
        }
        if group is not None:
            metadata |= {"lineage_group_id": group, "lineage_thread_id": thread, "lineage_run_id": run}
            metadata["lineage_checkpoint_seq"] = seq
        request_headers, response_headers = _headers(trace_id)
        with_body = rng.random() < 0.1
        yield {
            "id": trace_id,
            "trace_group_id": group,
            "org_id": key.org_id,
            "workspace_id": key.workspace_id,
            "timestamp": at,
            "provider": provider,
            "model": model,
            "request_method": "POST",
            "request_path": path,
            "request_headers": request_headers,
            "response_headers": response_headers,
            "request_body": f'{{"model":"{model}","messages":[{{"role":"user","content":"q{n}"}}]}}'
            if with_body
            else "",
            "response_body": '{"choices":[{"message":{"content":"an answer"}}]}' if with_body else "",
            "response_status": status,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
            "latency_ms": latency,
            "time_to_first_token_ms": ttft,
            "time_to_first_token_us": ttft * 1000,
            "api_key_hash": rng.choice(key.credential_hashes),
            "gateway_key_id": key.gateway_key_id,
            "estimated_cost_usd": cost,
            "metadata": orjson.dumps(metadata).decode(),
            "created_at": at + timedelta(milliseconds=latency),
            "lineage_thread_id": thread,
            "lineage_run_id": run,
        }


def sqlite_settings(path: str) -> Settings:
    return Settings(storage={"driver": "sqlite", "path": path})


def postgres_settings(dsn: str) -> Settings:
    return Settings(storage={"driver": "postgres", "dsn": dsn, "pool": {"min_size": 1, "max_size": 2}})


async def migrate_to(settings: Settings, revision: str) -> None:
    store = await open_trace_store(settings, migrate=False)
    try:
        await migrations.upgrade(store.engine, revision)
    finally:
        await store.close()


def load_sqlite(path: str, count: int, seed: int) -> None:
    marks = ", ".join("?" for _ in COLUMNS)
    names = ", ".join(f'"{c}"' for c in COLUMNS)
    sql = f"INSERT INTO traces ({names}) VALUES ({marks})"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-400000")
    batch: list[tuple[Any, ...]] = []
    for row in generate(count, seed):
        row["timestamp"] = format_sqlite_time(row["timestamp"])
        row["created_at"] = format_sqlite_time(row["created_at"])
        batch.append(tuple(row[c] for c in COLUMNS))
        if len(batch) == CHUNK:
            _sqlite_chunk(db, sql, batch)
            batch = []
    _sqlite_chunk(db, sql, batch)
    db.close()


def _sqlite_chunk(db: sqlite3.Connection, sql: str, batch: list[tuple[Any, ...]]) -> None:
    db.execute("BEGIN")
    db.executemany(sql, batch)
    db.execute("COMMIT")


async def load_postgres(dsn: str, count: int, seed: int) -> None:
    """Binary COPY with the secondary indexes dropped and rebuilt afterwards (the usual bulk-load recipe)."""
    conn = await asyncpg.connect(dsn)
    try:
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'traces' AND indexname LIKE 'idx_%'"
        )
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        batch: list[tuple[Any, ...]] = []
        for row in generate(count, seed):
            batch.append(tuple(row[c] for c in COLUMNS))
            if len(batch) == CHUNK:
                await conn.copy_records_to_table("traces", records=batch, columns=COLUMNS)
                batch = []
        if batch:
            await conn.copy_records_to_table("traces", records=batch, columns=COLUMNS)
        await conn.execute("SET maintenance_work_mem = '512MB'")
        for index in indexes:
            await conn.execute(index["indexdef"])
        await conn.execute("VACUUM ANALYZE traces")
    finally:
        await conn.close()


async def create_database(dsn: str) -> None:
    """Create the database named in `dsn` (dropping an earlier one of that name)."""
    name = dsn.rsplit("/", 1)[1].split("?")[0]
    conn = await asyncpg.connect(dsn.rsplit("/", 1)[0] + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--sqlite", help="path of a new SQLite file (must not exist)")
    target.add_argument("--postgres", help="DSN of a database to (re)create, e.g. .../ongoingai_bench")
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bulk-revision", default=BULK_REVISION, help="load rows at this revision")
    parser.add_argument("--stay", action="store_true", help="do not migrate to head after loading")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    if args.sqlite:
        if Path(args.sqlite).exists():
            parser.error(f"{args.sqlite} exists; seed into a new file")
        settings = sqlite_settings(args.sqlite)
        asyncio.run(migrate_to(settings, args.bulk_revision))
        load_sqlite(args.sqlite, args.count, args.seed)
    else:
        settings = postgres_settings(args.postgres)
        asyncio.run(create_database(args.postgres))
        asyncio.run(migrate_to(settings, args.bulk_revision))
        asyncio.run(load_postgres(args.postgres, args.count, args.seed))
    loaded = time.perf_counter()
    print(f"loaded {args.count} traces in {loaded - began:.1f} s", file=sys.stderr)
    if not args.stay:
        asyncio.run(migrate_to(settings, "head"))
        print(f"migrated to head in {time.perf_counter() - loaded:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
