"""Key verification cost (issue 4): the auth layer's `admit` on a provider route, in process.

Builds the real `AuthGuard` over a `KeyCache` holding `--keys` keys and times `admit` on a realistic
scope (13 request headers, the gateway key among them) against a no-op send: route decision, header
scan and strip, SHA-256, dict lookup, permission check, identity attach, last-used note. Prints µs
per request (best of `--rounds`, wall clock and thread CPU time). A benchmark, not a test: nothing
asserts on the numbers.

    .venv/bin/python bench/auth_verify.py [--keys 10000] [--iterations 200000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from ongoingai.auth.audit import AuditWriter
from ongoingai.auth.cache import KeyCache
from ongoingai.auth.guard import AuthGuard
from ongoingai.auth.keys import GatewayKey, hash_token
from ongoingai.auth.last_used import LastUsedRecorder

TOKEN = "ogk_benchmarkTOKEN_0123456789abcdefgh"


class Keys:
    def __init__(self, count: int) -> None:
        self.keys = [
            GatewayKey(
                id=f"k{n}", token_hash=hash_token(f"{TOKEN}{n}"), org_id="acme", workspace_id=f"w{n % 50}"
            )
            for n in range(count)
        ]

    async def active_keys(self) -> list[GatewayKey]:
        return self.keys


def scope() -> dict[str, Any]:
    headers = [
        (b"host", b"127.0.0.1:8080"),
        (b"user-agent", b"OpenAI/Python 1.55.0"),
        (b"accept", b"application/json"),
        (b"accept-encoding", b"gzip, deflate"),
        (b"connection", b"keep-alive"),
        (b"content-type", b"application/json"),
        (b"content-length", b"152"),
        (b"authorization", b"Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"),
        (b"x-stainless-lang", b"python"),
        (b"x-stainless-package-version", b"1.55.0"),
        (b"x-stainless-os", b"Linux"),
        (b"x-ongoingai-gateway-key", f"{TOKEN}7".encode()),
        (b"x-request-id", b"req-123"),
    ]
    return {"type": "http", "method": "POST", "path": "/openai/v1/chat/completions", "headers": headers}


async def noop_send(message: Any) -> None:
    return None


async def measure(keys: int, iterations: int, rounds: int) -> list[tuple[float, float]]:
    """(wall µs, CPU µs) per request for each round; CPU time is what counts on a busy machine."""
    cache = KeyCache(Keys(keys), max_staleness_s=60.0)
    await cache.refresh()
    guard = AuthGuard(
        header="X-OngoingAI-Gateway-Key",
        cache=cache,
        audit=AuditWriter(),
        last_used=LastUsedRecorder(),
        providers=("openai", "anthropic"),
        tenant_scope_key="ongoingai.tenant_scope",
    )
    template = scope()
    assert await guard.admit(dict(template), noop_send, "openai", "corr-1")
    results = []
    for _ in range(rounds):
        scopes = [dict(template) for _ in range(iterations)]
        wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
        for s in scopes:
            await guard.admit(s, noop_send, "openai", "corr-1")
        cpu, wall = time.thread_time_ns() - cpu, time.perf_counter_ns() - wall
        results.append((wall / iterations / 1000, cpu / iterations / 1000))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--iterations", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(measure(args.keys, args.iterations, args.rounds))
    wall = min(r[0] for r in results)
    cpu = min(r[1] for r in results)
    print(
        f"auth admit on a provider route, {args.keys} keys: "
        f"best {wall:.2f} µs wall, {cpu:.2f} µs CPU per request"
    )


if __name__ == "__main__":
    main()
