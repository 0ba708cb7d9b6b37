"""Micro-benchmark of the limits check (issue 8): CPU µs per check on the memory backend, and the latency a
check adds per request on the Redis backend over loopback.

    .venv/bin/python bench/limits_bench.py                    # memory, and Redis at 127.0.0.1:6379 db 13
    .venv/bin/python bench/limits_bench.py --redis-url URL    # another Redis (its database is flushed)
    .venv/bin/python bench/limits_bench.py --no-redis

Memory: CPU time (`time.process_time_ns`) of `Limiter.check` for many keys in rounds, best round kept (the
least disturbed by the rest of the machine). Redis: wall time of each check (one EVALSHA round trip),
p50/p90/p99 over sequential checks, next to a bare PING on the same pool for reference. A benchmark, never
a test: nothing here asserts on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from ongoingai.limits import Denial, Limiter
from ongoingai.limits.memory import MemoryBackend
from ongoingai.limits.redis_backend import RedisBackend
from ongoingai.limits.rules import LimitRules, Thresholds

KEYS = 200  # distinct keys in 10 workspaces: windows stay short, as for a real fleet of keys
HIGH = 10**9  # thresholds never reached: every check runs to the end and records
SCENARIOS: dict[str, LimitRules] = {
    "rate (key + workspace)": LimitRules(
        Thresholds(requests_per_minute=HIGH), Thresholds(requests_per_minute=HIGH)
    ),
    "rate + daily quotas": LimitRules(
        Thresholds(requests_per_minute=HIGH, tokens_per_day=HIGH, cost_usd_per_day=1e9),
        Thresholds(requests_per_minute=HIGH, tokens_per_day=HIGH, cost_usd_per_day=1e9),
    ),
    "all six + concurrency (acquire+release)": LimitRules(
        Thresholds(requests_per_minute=HIGH, tokens_per_day=HIGH, cost_usd_per_day=1e9, concurrent=HIGH),
        Thresholds(requests_per_minute=HIGH, tokens_per_day=HIGH, cost_usd_per_day=1e9, concurrent=HIGH),
    ),
}


def subjects() -> list[tuple[str, str, str]]:
    return [("acme", f"ws{i % 10}", f"key{i}") for i in range(KEYS)]


async def check_loop(limiter: Limiter, n: int) -> None:
    who = subjects()
    for i in range(n):
        org, ws, key = who[i % KEYS]
        verdict = await limiter.check(org, ws, key)
        if isinstance(verdict, Denial):
            raise SystemExit(f"unexpected refusal {verdict.code}: thresholds are meant never to be reached")
        if verdict is not None:
            verdict.release()


def memory_us_per_check(rules: LimitRules, rounds: int, per_round: int) -> float:
    clock = FakeWall()
    limiter = Limiter(rules, MemoryBackend(rules, clock), wall=clock)

    async def run() -> float:
        await limiter.start(None)
        await check_loop(limiter, per_round)  # warm-up
        best = float("inf")
        for _ in range(rounds):
            started = time.process_time_ns()
            await check_loop(limiter, per_round)
            best = min(best, (time.process_time_ns() - started) / per_round / 1000)
        return best

    return asyncio.run(run())


class FakeWall:
    """Real wall time, advanced 1 ms per read so windows fill like live traffic spread over time."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


async def redis_latency(url: str, rules: LimitRules, n: int) -> tuple[list[float], list[float]]:
    backend = RedisBackend(rules, url)
    limiter = Limiter(rules, backend)
    await limiter.start(None)
    try:
        flusher = aioredis.Redis.from_url(url)
        await flusher.flushdb()
        await flusher.aclose()
        await check_loop(limiter, 200)  # warm-up: connections, script cache
        checks = await timed(n, lambda: check_loop(limiter, 1))
        pings = await timed(n, backend.storage.check)
        if not backend.healthy or backend.fail_open_total:
            raise SystemExit("Redis failed during the run: figures would measure fail-open, not Redis")
        return checks, pings
    finally:
        await limiter.stop()


async def timed(n: int, call: Callable[[], object]) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter_ns()
        await call()  # type: ignore[misc]
        samples.append((time.perf_counter_ns() - started) / 1e6)
    return samples


def percentiles(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    return f"p50 {q[49]:.3f} ms  p90 {q[89]:.3f} ms  p99 {q[98]:.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=20_000)
    parser.add_argument("--redis-checks", type=int, default=3_000)
    args = parser.parse_args()

    print(f"memory backend: CPU µs per check (best of {args.rounds} rounds × {args.per_round}, {KEYS} keys)")
    for name, rules in SCENARIOS.items():
        print(f"  {name:<42} {memory_us_per_check(rules, args.rounds, args.per_round):7.2f} µs")
    if args.no_redis:
        return
    rules = SCENARIOS["all six + concurrency (acquire+release)"]
    checks, pings = asyncio.run(redis_latency(args.redis_url, rules, args.redis_checks))
    where = args.redis_url.rsplit("@", 1)[-1]  # never print a password
    print(f"redis backend on {where}: wall time per check ({args.redis_checks} sequential)")
    print(f"  check (one EVALSHA)  {percentiles(checks)}")
    print(f"  PING (reference)     {percentiles(pings)}")


if __name__ == "__main__":
    main()
