"""The trace pipeline under proxy load: `ongoingai serve` before the nginx fake upstream at a steady rate,
with the writer's diagnostics sampled every second (issue 3 "Performance": at 2,000 req/s for 60 s, zero
drops and queue pressure `ok`; a 60 s Postgres outage under that load loses nothing).

    .venv/bin/python bench/pipeline_load.py                          # both scenarios, 2,000 req/s, 60 s
    .venv/bin/python bench/pipeline_load.py --scenario steady --rate 1000 --duration 20
    .venv/bin/python bench/pipeline_load.py --scenario outage --outage 60

`steady`: SQLite (the default store), `rate` req/s for `duration` s. `outage`: Postgres behind a loopback
TCP relay (tests/fakes/tcp_relay.py) switched off `--outage-start` s into the load for `--outage` s (the
load runs on until `outage-start + outage + 10` s at least), then the bench waits for the journal replay.
Both stop the gateway with SIGTERM (its shutdown flush) and count the stored rows against the requests
that got an answer. The generator is open loop (request i is sent at i / rate s, whatever the earlier
ones are doing) with aiohttp in this process, so it competes for the same 2 CPUs as the gateway: on a
shared machine the figures are noisy. A benchmark, never a test: nothing asserts on timing; the exit
code is 1 when traces were lost or dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import asyncpg
import yaml

import fake_upstream
import fixtures
from server_process import ServerProcess, free_port, start_server
from targets import CHAT_PATH, GATEWAY_PREFIX, _python_env, gateway_binary, gateway_config

if TYPE_CHECKING:
    from tests.fakes.tcp_relay import TcpRelay

DEFAULT_SERVER_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class Samples:
    """Per-second diagnostics: the worst of each figure over the run, and the last snapshot."""

    states: Counter[str] = field(default_factory=Counter)
    max_depth: int = 0
    max_journal_depth: int = 0
    last: dict[str, Any] = field(default_factory=dict)

    def add(self, diag: dict[str, Any]) -> None:
        self.states[diag["queue_pressure_state"]] += 1
        self.max_depth = max(self.max_depth, diag["queue_depth"])
        self.max_journal_depth = max(self.max_journal_depth, diag.get("spill_journal_depth", 0))
        self.last = diag


@dataclass
class LoadResult:
    sent: int = 0
    answered: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    late_s: float = 0.0  # how far behind schedule the generator fell at worst


async def diagnostics(session: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with session.get(f"{base}/api/diagnostics/trace-pipeline") as response:
        body = await response.json()
    return dict(body["diagnostics"])


async def sample_every_second(
    session: aiohttp.ClientSession, base: str, samples: Samples, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            samples.add(await diagnostics(session, base))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def one_request(session: aiohttp.ClientSession, url: str, body: bytes, result: LoadResult) -> None:
    headers = {"Content-Type": "application/json", "Authorization": fixtures.AUTHORIZATION}
    try:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            result.statuses[response.status] += 1
            result.answered += 1
    except (aiohttp.ClientError, TimeoutError) as exc:
        result.errors[type(exc).__name__] += 1


async def open_loop(session: aiohttp.ClientSession, url: str, rate: float, duration_s: float) -> LoadResult:
    body = fixtures.request_body(stream=False)
    result = LoadResult()
    tasks: set[asyncio.Task[None]] = set()
    total = int(rate * duration_s)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(total):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            result.late_s = max(result.late_s, -delay)
        task = asyncio.create_task(one_request(session, url, body, result))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        result.sent += 1
    await asyncio.gather(*tasks)
    return result


def write_config(
    work_dir: Path, gateway_port: int, upstream_port: int, storage: dict[str, Any], spill_mb: int
) -> Path:
    config = gateway_config(work_dir, gateway_port, upstream_port)
    config["storage"] = storage
    config["tracing"] = {
        "capture_bodies": True,
        "spill": {"path": str(work_dir / "gateway" / "spill"), "max_bytes": spill_mb * 1024 * 1024},
    }
    config["logging"] = {"level": "warning", "format": "json"}
    path = work_dir / "gateway" / "ongoingai.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def start_gateway(work_dir: Path, config_path: Path, port: int) -> ServerProcess:
    argv = [str(gateway_binary()), "serve", "--config", str(config_path)]
    env = _python_env(work_dir)
    return start_server(
        "gateway",
        argv,
        port=port,
        probe_path="/api/health",
        cpu=None,
        log_path=work_dir / "gateway.log",
        env=env,
        timeout_s=30,
    )


async def count_sqlite(path: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM traces").fetchone()[0])
    finally:
        conn.close()


async def count_postgres(dsn: str) -> int:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM traces"))
    finally:
        await conn.close()


async def wait_for_replay(
    session: aiohttp.ClientSession, base: str, limit_s: float
) -> tuple[float, dict[str, Any]]:
    """Wait (at most `limit_s`) until journal and queue are empty; returns the wait and the last snapshot."""
    started = time.monotonic()
    diag: dict[str, Any] = {}
    while time.monotonic() - started < limit_s:
        diag = await diagnostics(session, base)
        if diag.get("spill_journal_depth", 0) == 0 and diag["queue_depth"] == 0:
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - started, diag


def report(
    name: str, load: LoadResult, samples: Samples, stored: int, extra: dict[str, Any], wall_s: float
) -> bool:
    last = samples.last
    lost = load.answered - stored
    unstored = last.get("enqueue_accepted_total", 0) - stored
    lines = [
        f"requests sent {load.sent}, answered {load.answered} {dict(load.statuses)}, "
        f"errors {dict(load.errors)}",
        f"achieved rate {load.sent / wall_s:,.0f} req/s over {wall_s:.1f} s; "
        f"generator at worst {load.late_s * 1000:.0f} ms behind schedule",
        f"rows stored {stored}; answered − stored = {lost}; traces the sink accepted − stored = {unstored} "
        "(a request the client gave up on is still traced: the sink's count is the one to match)",
        f"queue pressure samples (1/s): {dict(samples.states)}; max depth {samples.max_depth}; "
        f"high watermark {last.get('queue_depth_high_watermark')} "
        f"({last.get('queue_high_watermark_pressure_state')})",
        f"enqueue_dropped_total {last.get('enqueue_dropped_total')}, "
        f"write_dropped_total {last.get('write_dropped_total')}, spilled_total {last.get('spilled_total')}, "
        f"replayed_total {last.get('replayed_total')}, max journal depth {samples.max_journal_depth}, "
        f"failures by class {last.get('write_failures_by_class', {})}",
    ]
    print(f"\n## {name}")
    for line in lines:
        print(f"- {line}")
    for key, value in extra.items():
        print(f"- {key}: {value}")
    return unstored == 0 and not last.get("total_dropped_total")


async def run_scenario(args: argparse.Namespace, scenario: str, work_root: Path, upstream_port: int) -> bool:
    work_dir = work_root / scenario
    port = free_port()
    relay: TcpRelay | None = None
    db_name = ""
    server = os.environ.get("ONGOINGAI_BENCH_POSTGRES_DSN", DEFAULT_SERVER_DSN)
    head = server.rpartition("/")[0]
    if scenario == "outage":
        db_name = "ongoingai_load_" + secrets.token_hex(4)
        admin = await asyncpg.connect(server, timeout=5)
        await admin.execute(f'CREATE DATABASE "{db_name}"')
        await admin.close()
        # The relay the tests use for outages; the repository root is not on a bench script's path.
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.fakes.tcp_relay import TcpRelay

        relay = TcpRelay("127.0.0.1", 5432)
        relay_port = await relay.start()
        user = server.split("//", 1)[1].split("@", 1)[0]
        storage: dict[str, Any] = {
            "driver": "postgres",
            "dsn": f"postgresql://{user}@127.0.0.1:{relay_port}/{db_name}",
        }
    else:
        storage = {"driver": "sqlite", "path": str(work_dir / "gateway" / "ongoingai.db")}
    config_path = write_config(work_dir, port, upstream_port, storage, args.spill_mb)
    # Off the loop: the relay in front of Postgres runs on it and must answer while the gateway starts.
    gateway = await asyncio.to_thread(start_gateway, work_dir, config_path, port)
    base = f"http://127.0.0.1:{port}"
    duration = args.duration
    if scenario == "outage":
        duration = max(duration, args.outage_start + args.outage + 10)
    samples, stop = Samples(), asyncio.Event()
    extra: dict[str, Any] = {}
    try:
        connector = aiohttp.TCPConnector(limit=args.connections)
        timeout = aiohttp.ClientTimeout(total=30)
        # Diagnostics get a session of their own: behind the load's connection pool they would be sampled
        # only when the gateway keeps up, which is exactly when they matter least.
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            aiohttp.ClientSession(timeout=timeout) as probe,
        ):
            sampler = asyncio.create_task(sample_every_second(probe, base, samples, stop))
            outage = asyncio.create_task(run_outage(relay, args)) if relay else None
            started = time.monotonic()
            load = await open_loop(session, base + GATEWAY_PREFIX + CHAT_PATH, args.rate, duration)
            wall = time.monotonic() - started
            if outage:
                await outage
                waited, diag = await wait_for_replay(probe, base, args.replay_limit)
                extra["replay after the load"] = (
                    f"{waited:.1f} s until journal depth {diag.get('spill_journal_depth')}"
                )
            stop.set()
            await sampler
            samples.add(await diagnostics(probe, base))
        # SIGTERM: the writer flushes what it holds (bounded wait) and journals the rest.
        await asyncio.to_thread(gateway.stop)
        if scenario == "outage":
            stored = await count_postgres(f"{head}/{db_name}")
        else:
            stored = await count_sqlite(work_dir / "gateway" / "ongoingai.db")
        return report(f"{scenario} ({storage['driver']})", load, samples, stored, extra, wall)
    finally:
        await asyncio.to_thread(gateway.stop)
        if relay is not None:
            await relay.close()
        if db_name:
            admin = await asyncpg.connect(server, timeout=5)
            await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            await admin.close()


async def run_outage(relay: TcpRelay | None, args: argparse.Namespace) -> None:
    if relay is None:
        return
    await asyncio.sleep(args.outage_start)
    print(f"postgres relay off for {args.outage} s", file=sys.stderr)
    relay.switch_off()
    await asyncio.sleep(args.outage)
    relay.switch_on()
    print("postgres relay on again", file=sys.stderr)


async def main_async(args: argparse.Namespace) -> int:
    fake_upstream.ensure_tools()
    ok = True
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    # Kept after the run (bench/results/ is git-ignored): the gateway log says why a start or a write failed.
    work_root = Path(tempfile.mkdtemp(prefix="pipeline-load-", dir=results))
    print(f"work dir {work_root}", file=sys.stderr)
    if True:
        nginx, upstream_port = fake_upstream.start_nginx(work_root, cpu=None)
        try:
            for scenario in args.scenario.split(","):
                print(
                    f"running {scenario}: {args.rate:.0f} req/s (load average {os.getloadavg()[0]:.2f})",
                    file=sys.stderr,
                )
                ok = await run_scenario(args, scenario, work_root, upstream_port) and ok
        finally:
            nginx.stop()
    print(
        f"\nload average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs "
        "(machine shared with other work: figures are noisy)"
    )
    return 0 if ok else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", default="steady,outage")
    parser.add_argument("--rate", type=float, default=2000.0, help="requests per second (open loop)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--connections", type=int, default=64, help="client connection pool size")
    parser.add_argument("--outage-start", type=float, default=10.0)
    parser.add_argument("--outage", type=float, default=60.0, help="seconds Postgres is unreachable")
    parser.add_argument(
        "--replay-limit", type=float, default=600.0, help="longest wait for the journal replay"
    )
    parser.add_argument(
        "--spill-mb", type=int, default=256, help="tracing.spill.max_bytes in MiB (default 256)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main_async(parse_args())))
