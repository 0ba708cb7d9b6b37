"""Trace writer throughput: N realistic traces through the real writer into a fresh SQLite file and a fresh
Postgres database, and the same N through the store's `write_batch` alone, so the split between the
writer's own cost and the store's is visible (issue 3 "Performance": ≥ 20,000 traces/s on SQLite,
≥ 10,000/s on Postgres).

    .venv/bin/python bench/writer_bench.py                       # 100k traces, both backends, both paths
    .venv/bin/python bench/writer_bench.py -n 20000 --backends sqlite --paths writer
    .venv/bin/python bench/writer_bench.py --profile             # cProfile of every thread, top functions
    .venv/bin/python bench/writer_bench.py --src /tmp/before/src # measure another source tree ("before")

`raw` calls `store.write_batch` with `batch_size` records at a time, one after the other. `writer` runs the
`BatchWriter` that `serve` runs (`tracing.writer.*` sizes, spill journal in a temp dir): a producer enqueues
whenever the queue has room (as many proxies would at full speed), then `shutdown` flushes the rest; the
figure is N / (first enqueue → shutdown returned). CPU is this process (all threads) and, for Postgres, the
server's processes too (every `postgres` process on the machine, so other users' queries count: the machine
is shared). A benchmark, never a test: nothing asserts on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_SERVER_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1", "o3-mini", "claude-sonnet-4-5", "claude-haiku-4-5")
PATHS = {"openai": "/openai/v1/chat/completions", "anthropic": "/anthropic/v1/messages"}
STATUSES = (200,) * 46 + (429, 500, 400, 502)


def _request_body(rng: random.Random, model: str) -> str:
    question = " ".join(rng.choice(("latency", "p99", "budget", "trace", "tail", "cost")) for _ in range(12))
    return (
        '{"model":"' + model + '","messages":[{"role":"system","content":"You are a concise assistant for an '
        'SRE team."},{"role":"user","content":"' + question + '"}],"temperature":0.2,"max_tokens":256}'
    )


def _response_body(n: int, model: str, tokens: tuple[int, int]) -> str:
    return (
        '{"id":"chatcmpl-'
        + f"{n:020d}"
        + '","object":"chat.completion","created":1741569952,"model":"'
        + model
        + '","choices":[{"index":0,"message":{"role":"assistant","content":"Latency budgets matter most at '
        'the tail: measure p99, not only the median, and compare within one run.","refusal":null,'
        '"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":'
        + str(tokens[0])
        + ',"completion_tokens":'
        + str(tokens[1])
        + ',"total_tokens":'
        + str(sum(tokens))
        + '},"service_tier":"default","system_fingerprint":"fp_06737a9306"}'
    )


def realistic_records(count: int, seed: int = 7) -> list[Any]:
    """Records shaped like what capture/build.py makes with `capture_bodies: true`: random ids, ~50 keys,
    6 models, a few tenants, lineage on a third of them, ~1.3 kB of bodies, full metadata."""
    from ongoingai.traces import TraceRecord

    rng = random.Random(seed)
    keys = [secrets.token_hex(32) for _ in range(50)]
    start = datetime.now(UTC) - timedelta(hours=1)
    out = []
    for n in range(count):
        model = rng.choice(MODELS)
        provider = "anthropic" if model.startswith("claude") else "openai"
        tokens = (rng.randint(20, 4000), rng.randint(1, 1200))
        at = start + timedelta(microseconds=n * 50)
        trace_id = secrets.token_hex(16)
        key = rng.randrange(len(keys))
        org = f"org{key % 4}" if key % 5 else "default"
        streaming = rng.random() < 0.5
        metadata: dict[str, Any] = {
            "streaming": streaming,
            "stream_chunks": rng.randint(5, 200) if streaming else 0,
            "redaction_mode": "redact_storage",
            "redaction_policy_id": "default/v1",
            "redaction_applied": True,
            "redaction_counts": {"header": 1},
            "lineage_checkpoint_id": trace_id,
            "lineage_immutable": True,
            "api_key_last4": keys[key][-4:],
            "gateway_key_id": f"gk_{key:03d}",
            "team": f"team-{key % 7}",
            "role": "developer",
            "correlation_id": secrets.token_hex(8),
            "cost_status": "priced",
            "price_table_version": "2025-11-01",
            "cached_input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "reasoning_tokens": 0,
        }
        group = None
        if n % 3 == 0:
            group = f"grp-{n // 30}"
            metadata |= {"lineage_group_id": group, "lineage_thread_id": f"th-{n // 30}"}
            metadata |= {"lineage_run_id": f"run-{n // 90}", "lineage_checkpoint_seq": n % 30}
        out.append(
            TraceRecord(
                id=trace_id,
                trace_group_id=group,
                org_id=org,
                workspace_id="default",
                timestamp=at,
                created_at=at,
                provider=provider,
                model=model,
                request_method="POST",
                request_path=PATHS[provider],
                request_headers={
                    "Authorization": ["[REDACTED]"],
                    "Content-Type": ["application/json"],
                    "User-Agent": ["OpenAI/Python 1.55.0"],
                    "X-Ongoingai-Correlation-Id": [metadata["correlation_id"]],
                    "X-Ongoingai-Gateway-Key": ["[REDACTED]"],
                },
                response_headers={
                    "Content-Type": ["text/event-stream" if streaming else "application/json"],
                    "Openai-Processing-Ms": [str(rng.randint(100, 9000))],
                    "X-Request-Id": ["req_" + secrets.token_hex(12)],
                    "X-Ratelimit-Remaining-Requests": [str(rng.randint(0, 10000))],
                },
                request_body=_request_body(rng, model),
                response_body=_response_body(n, model, tokens),
                response_status=rng.choice(STATUSES),
                input_tokens=tokens[0],
                output_tokens=tokens[1],
                total_tokens=sum(tokens),
                latency_ms=rng.randint(80, 30000),
                time_to_first_token_us=rng.randint(50_000, 2_000_000) if streaming else 0,
                api_key_hash=keys[key],
                gateway_key_id=f"gk_{key:03d}",
                estimated_cost_usd=round(tokens[0] * 1.5e-7 + tokens[1] * 6e-7, 8),
                metadata=metadata,
            )
        )
    return out


@dataclass
class Result:
    backend: str
    path: str
    count: int
    wall_s: float
    cpu_s: float
    server_cpu_s: float | None
    batch_sizes: list[int] = field(default_factory=list)
    dropped: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    stored: int = 0

    @property
    def rate(self) -> float:
        return self.count / self.wall_s if self.wall_s else 0.0


class CountingStore:
    """Passes `write_batch` through, recording each batch's size (the batching as the store sees it)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sizes: list[int] = []

    async def write_batch(self, records: Sequence[Any], *, idempotent: bool = False) -> Any:
        self.sizes.append(len(records))
        return await self.inner.write_batch(records, idempotent=idempotent)


def postgres_cpu_s() -> float:
    """utime+stime of every process named `postgres` (the server's backends, walwriter, checkpointer)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" not in text:
            continue
        fields = text.rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class ThreadProfiles:
    """cProfile in every thread that starts while enabled (the store may write from its own thread)."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._main = cProfile.Profile()

    def _hook(self, *_args: Any) -> None:
        profile = cProfile.Profile()
        self.profiles.append(profile)
        threading.setprofile(None)
        profile.enable()

    def start(self) -> None:
        threading.setprofile(self._hook)
        self._main.enable()

    def stop(self, top: int) -> None:
        self._main.disable()
        threading.setprofile(None)
        stats = pstats.Stats(self._main)
        for profile in self.profiles:
            profile.disable()  # no-op from another thread; a thread still running keeps what it has
            if profile.getstats():
                stats.add(profile)
        stats.sort_stats("tottime").print_stats(top)
        if os.environ.get("WRITER_BENCH_CALLERS"):
            stats.print_callers(os.environ["WRITER_BENCH_CALLERS"])


async def open_store(backend: str, workdir: Path, dsn: str) -> Any:
    from ongoingai.config import Settings
    from ongoingai.store import open_trace_store

    if backend == "postgres":
        storage: dict[str, Any] = {"driver": "postgres", "dsn": dsn}
    else:
        storage = {"driver": "sqlite", "path": str(workdir / "data" / "ongoingai.db")}
    settings = Settings(storage=storage, tracing={"spill": {"path": str(workdir / "spill")}})
    return settings, await open_trace_store(settings)


async def count_rows(store: Any) -> int:
    import sqlalchemy as sa

    async with store.connect() as conn:
        return int((await conn.execute(sa.text("SELECT count(*) FROM traces"))).scalar_one())


async def run_raw(store: Any, records: list[Any], batch_size: int) -> tuple[list[int], Counter[str]]:
    sizes: list[int] = []
    failures: Counter[str] = Counter()
    for start in range(0, len(records), batch_size):
        chunk = records[start : start + batch_size]
        result = await store.write_batch(chunk)
        sizes.append(len(chunk))
        for failure in result.failures:
            failures[failure.error_class] += len(failure.records)
    return sizes, failures


async def run_writer(
    settings: Any, store: Any, records: list[Any], batch_size: int | None
) -> tuple[list[int], int, Counter[str]]:
    from ongoingai.sink import BatchWriter

    counting = CountingStore(store)
    writer = BatchWriter.from_settings(settings, counting)
    if batch_size is not None:
        writer.batch_size = batch_size
    await writer.start()
    capacity = writer.capacity
    i = 0
    while i < len(records):
        room = capacity - writer.diagnostics()["queue_depth"]
        if room <= 0:
            await asyncio.sleep(0.0005)  # the producer waits for room: the bench measures the writer
            continue
        for record in records[i : i + min(room, 256)]:
            writer.enqueue(record)
        i += min(room, 256)
        await asyncio.sleep(0)
    await writer.shutdown(timeout=600)
    diag = writer.diagnostics()
    failures = Counter(diag.get("write_failures_by_class", {}))
    return counting.sizes, int(diag["total_dropped_total"]), failures


async def create_database(server: str) -> str:
    import asyncpg

    name = "ongoingai_bench_" + secrets.token_hex(4)
    conn = await asyncpg.connect(server, timeout=3)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_database(server: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server, timeout=3)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def with_database(dsn: str, name: str) -> str:
    head, _, _ = dsn.rpartition("/")
    return f"{head}/{name}"


async def measure(args: argparse.Namespace, backend: str, path: str, records: list[Any]) -> Result:
    server = os.environ.get("ONGOINGAI_BENCH_POSTGRES_DSN", DEFAULT_SERVER_DSN)
    db_name = await create_database(server) if backend == "postgres" else ""
    with tempfile.TemporaryDirectory(prefix="ongoingai-writer-bench-") as tmp:
        settings, store = await open_store(backend, Path(tmp), with_database(server, db_name))
        try:
            # Warm-up: connections opened, statements prepared, code paths imported; not timed, not counted.
            # (Skipped under --profile, so that the store's own threads start inside the profile.)
            warm = [] if args.profile else realistic_records(256, seed=99)
            await store.write_batch(warm)
            profiles = ThreadProfiles() if args.profile else None
            server_before = postgres_cpu_s() if backend == "postgres" else 0.0
            cpu_before, wall_before = time.process_time(), time.perf_counter()
            if profiles:
                profiles.start()
            dropped = 0
            if path == "raw":
                sizes, failures = await run_raw(store, records, args.batch_size or 64)
            else:
                sizes, dropped, failures = await run_writer(settings, store, records, args.batch_size)
            wall = time.perf_counter() - wall_before
            cpu = time.process_time() - cpu_before
            server_cpu = postgres_cpu_s() - server_before if backend == "postgres" else None
            if profiles:
                print(f"--- profile: {backend} {path} ---")
                profiles.stop(args.profile_top)
            stored = await count_rows(store) - len(warm)
            inserter = getattr(store, "_sqlite", None)
            if inserter is not None:
                print(f"{backend} {path}: {inserter.transactions} transactions")
        finally:
            await store.close()
            if db_name:
                await drop_database(server, db_name)
    return Result(backend, path, len(records), wall, cpu, server_cpu, sizes, dropped, failures, stored)


def render(results: list[Result]) -> str:
    lines = [
        "| backend | path | traces | traces/s | wall s | CPU s/1k (gateway) | CPU s/1k (postgres) "
        "| batch mean / max | batches | dropped | failures | stored |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: |",
    ]
    for r in results:
        per_k = 1000 / r.count if r.count else 0.0
        server = f"{r.server_cpu_s * per_k:.3f}" if r.server_cpu_s is not None else "—"
        mean = statistics.fmean(r.batch_sizes) if r.batch_sizes else 0.0
        failures = ", ".join(f"{k}={v}" for k, v in sorted(r.failures.items())) or "0"
        lines.append(
            f"| {r.backend} | {r.path} | {r.count} | {r.rate:,.0f} | {r.wall_s:.2f} | {r.cpu_s * per_k:.3f} "
            f"| {server} | {mean:.1f} / {max(r.batch_sizes, default=0)} | {len(r.batch_sizes)} "
            f"| {r.dropped} | {failures} | {r.stored} |"
        )
    return "\n".join(lines)


def load_avg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


async def main_async(args: argparse.Namespace) -> int:
    records = realistic_records(args.count)
    results = []
    for backend in args.backends.split(","):
        for path in args.paths.split(","):
            print(f"measuring {backend} {path} (load average {load_avg()})", file=sys.stderr)
            results.append(await measure(args, backend, path, records))
    print(render(results))
    print(f"\nload average after: {load_avg()} on {os.cpu_count()} CPUs (shared machine: figures are noisy)")
    return 0 if all(r.stored == r.count and r.dropped == 0 for r in results) else 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--count", type=int, default=100_000, help="traces per measurement")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--paths", default="raw,writer", help="raw (store.write_batch only), writer")
    parser.add_argument("--batch-size", type=int, default=None, help="override tracing.writer.batch_size")
    parser.add_argument("--profile", action="store_true", help="cProfile each measurement (slows it)")
    parser.add_argument("--profile-top", type=int, default=30)
    parser.add_argument("--src", default=None, help="import ongoingai from this source tree instead")
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    if args.src:
        sys.path.insert(0, str(Path(args.src).resolve()))
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
