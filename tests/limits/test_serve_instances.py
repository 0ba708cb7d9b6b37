"""Real `ongoingai serve` processes (issue 8): two instances sharing one Redis and one Postgres hold a
per-key rate and a daily quota for the fleet, and write no secret to Redis or the audit table; a restarted
instance remembers the day's spend from the store."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis
import yaml

from tests.fakes.servers import ServerThread, free_port
from tests.fakes.upstream import FakeUpstream, Reply
from tests.limits.conftest import (
    CHAT,
    CHAT_PATH,
    HEADER,
    KEYS,
    PROVIDER_KEY,
    SECRETS,
    TOKEN_A,
    TOKEN_C,
    redis_dump,
)

pytestmark = pytest.mark.e2e

BINARY = Path(sys.executable).parent / "ongoingai"
RATE = 6


@pytest.fixture
def fake_upstream() -> Iterator[tuple[FakeUpstream, str]]:
    fake = FakeUpstream()
    server = ServerThread(fake)
    server.start()
    yield fake, server.url
    server.stop()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def ready(base: str) -> bool:
    try:
        return httpx.get(base + "/api/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


class Instance:
    def __init__(self, tmp_path: Path, name: str, config: dict[str, Any]) -> None:
        port = free_port()
        config = {**config, "server": {"host": "127.0.0.1", "port": port}}
        config["tracing"] = {"spill": {"path": str(tmp_path / f"spill-{name}")}}
        self.path = tmp_path / f"{name}.yaml"
        self.path.write_text(yaml.safe_dump(config))
        self.log = tmp_path / f"{name}.log"
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Instance:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(BINARY), "serve", "--config", str(self.path)], stdout=out, stderr=out
            )
        wait_until(
            lambda: self.proc is not None and self.proc.poll() is None and ready(self.base), 30, "ready"
        )
        return self

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # never leave a hung server behind
            self.proc.wait()
            raise

    def chat(self, token: str) -> httpx.Response:
        headers = {HEADER: token, "Authorization": f"Bearer {PROVIDER_KEY}"}
        return httpx.post(self.base + CHAT_PATH, headers=headers, json={"model": "gpt-4o"}, timeout=10)

    def limits_health(self) -> dict[str, Any]:
        body = httpx.get(self.base + "/api/diagnostics/limits", headers={HEADER: TOKEN_A}, timeout=5).json()
        limits: dict[str, Any] = body["limits"]
        return limits


def base_config(upstream_url: str, storage: dict[str, Any], limits: dict[str, Any]) -> dict[str, Any]:
    return {
        "storage": storage,
        "providers": {
            "openai": {"upstream": upstream_url, "prefix": "/openai"},
            "anthropic": {"upstream": upstream_url, "prefix": "/anthropic"},
        },
        "auth": {"enabled": True, "keys": KEYS},
        "limits": limits,
    }


def workspace_tokens(url: str, workspace: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        total = 0
        for key in client.scan_iter(f"ongoingai:limits:day:*:w:{workspace}"):
            value: Any = client.hget(key, "tokens")
            total += int(value or 0)
        return total
    finally:
        client.close()


async def audit_dump(dsn: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [dict(r) for r in await conn.fetch("SELECT * FROM audit_events")]
    finally:
        await conn.close()


@pytest.mark.redis
@pytest.mark.postgres
def test_two_instances_share_rates_and_daily_quotas_through_redis(
    tmp_path: Path, fake_upstream: tuple[FakeUpstream, str], redis_url: str, postgres_dsn: str
) -> None:
    fake, upstream_url = fake_upstream
    limits = {
        "backend": "redis",
        "redis_url": redis_url,
        "per_key": {"requests_per_minute": RATE},
        "per_workspace": {"max_tokens_per_day": 10},
    }
    config = base_config(upstream_url, {"driver": "postgres", "dsn": postgres_dsn}, limits)
    a = Instance(tmp_path, "a", config)
    b = Instance(tmp_path, "b", config)
    instances = [a.start(), b.start()]
    try:
        # Per-key rate: 2 × RATE requests alternating between the instances admit RATE in total.
        for _ in range(2 * RATE):
            fake.script("/v1/chat/completions", Reply.json(b"{}"))  # no usage: only the rate counts
        answers = [(a if i % 2 else b).chat(TOKEN_A) for i in range(2 * RATE)]
        assert sorted(r.status_code for r in answers) == [200] * RATE + [429] * RATE
        refused = [r for r in answers if r.status_code == 429]
        assert {r.json()["code"] for r in refused} == {"KEY_RATE_LIMIT_EXCEEDED"}
        assert all(1 <= int(r.headers["retry-after"]) <= 60 for r in refused)
        assert len(fake.received) == RATE  # nothing refused was forwarded
        fake.reset()  # drops the replies scripted for the refused requests

        # Daily tokens: instance a's traffic reaches ws2's quota (2 × 5 tokens); instance b refuses.
        fake.script("/v1/chat/completions", Reply.json(CHAT), Reply.json(CHAT))
        assert [a.chat(TOKEN_C).status_code for _ in range(2)] == [200, 200]
        # a writes usage to Redis off the request path (a batch every ~50 ms): wait for it, then ask b.
        wait_until(lambda: workspace_tokens(redis_url, "acme|ws2") >= 10, 10, "a's usage in Redis")
        last = b.chat(TOKEN_C)
        assert (last.status_code, last.json()["code"]) == (429, "WORKSPACE_DAILY_TOKENS_EXCEEDED")
        assert len(fake.received) == 2

        health = b.limits_health()
        assert (health["backend"], health["healthy"], health["shared"]) == ("redis", True, True)
    finally:
        codes = [i.stop() for i in instances]
    assert codes == [0, 0]
    rows = asyncio.run(audit_dump(postgres_dsn))
    assert {r["reason"] for r in rows if r["action"] == "limit.deny"} >= {
        "KEY_RATE_LIMIT_EXCEEDED",
        "WORKSPACE_DAILY_TOKENS_EXCEEDED",
    }
    stored = repr(rows) + redis_dump(redis_url)
    logs = a.log.read_text() + b.log.read_text()
    assert "ongoingai:limits:day:" in stored and "acme|ws1|ka" in stored  # the scan saw the counters
    for secret in SECRETS:  # regression: no gateway token or provider key in Redis, audit rows or logs
        assert secret not in stored
        assert secret not in logs
        assert secret[4:20] not in stored


def test_a_restarted_instance_remembers_the_days_spend(
    tmp_path: Path, fake_upstream: tuple[FakeUpstream, str]
) -> None:
    fake, upstream_url = fake_upstream
    storage = {"driver": "sqlite", "path": str(tmp_path / "data" / "ongoingai.db")}
    config = base_config(upstream_url, storage, {"per_key": {"max_tokens_per_day": 10}})
    first = Instance(tmp_path, "first", config).start()
    try:
        fake.script("/v1/chat/completions", Reply.json(CHAT), Reply.json(CHAT))
        assert [first.chat(TOKEN_A).status_code for _ in range(2)] == [200, 200]
        assert first.chat(TOKEN_A).status_code == 429
    finally:
        assert first.stop() == 0  # the writer flushes the traces to the store on the way out
    second = Instance(tmp_path, "first", config).start()  # same config, same port: a restart
    try:
        refused = second.chat(TOKEN_A)
        assert (refused.status_code, refused.json()["code"]) == (429, "KEY_DAILY_TOKENS_EXCEEDED")
        health = second.limits_health()
        assert (health["backend"], health["daily_usage_seeded"]) == ("memory", True)
    finally:
        assert second.stop() == 0
    assert len(fake.received) == 2
