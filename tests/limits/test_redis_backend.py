"""The Redis backend against the local Redis (issue 8): counters shared by instances, the same semantics as
the memory backend, `limits`' readers on our windows, seeding without double counting, leases, and
Redis going away (fail open, visible, nothing lost that can be kept)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from limits.aio.strategies import MovingWindowRateLimiter

from ongoingai.limits import Denial, Limiter
from ongoingai.limits.backend import Usage
from ongoingai.limits.memory import MemoryBackend, rate_item
from ongoingai.limits.redis_backend import LEASE_STALE_S, RedisBackend
from ongoingai.limits.rules import LimitRules, Thresholds
from ongoingai.traces import TraceRecord
from tests.fakes.clocks import T0, ManualClock
from tests.fakes.tcp_relay import TcpRelay
from tests.fakes.trace_records import make_record
from tests.fakes.upstream import FakeUpstream
from tests.limits.conftest import HEADER, TOKEN_A, StackFactory, redis_dump, script_chat

pytestmark = pytest.mark.redis

ORG, WS, KEY = "acme", "ws", "k1"
Make = Callable[..., Awaitable[Limiter]]
OFF = Thresholds()


def record(tokens: int, cost: float = 0.0, key: str = KEY) -> TraceRecord:
    return make_record(
        id="t",
        timestamp=T0,
        org_id=ORG,
        workspace_id=WS,
        total_tokens=tokens,
        gateway_key_id=key,
        estimated_cost_usd=cost,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def make(redis_url: str, clock: ManualClock) -> AsyncIterator[Make]:
    """`await make(key=Thresholds(...), url=...)`: a started limiter on the Redis backend (one "instance")."""
    made: list[Limiter] = []

    async def build(key: Thresholds = OFF, workspace: Thresholds = OFF, url: str = redis_url) -> Limiter:
        rules = LimitRules(key, workspace)
        backend = RedisBackend(rules, url, wall=clock.wall, monotonic=clock.monotonic)
        limiter = Limiter(rules, backend, wall=clock.wall)
        await limiter.start(None)
        made.append(limiter)
        return limiter

    yield build
    for limiter in made:
        await limiter.stop()


def redis_of(limiter: Limiter) -> RedisBackend:
    assert isinstance(limiter.backend, RedisBackend)
    return limiter.backend


async def test_a_per_key_rate_holds_across_instances(make: Make, clock: ManualClock) -> None:
    per_key = Thresholds(requests_per_minute=4)
    a, b = await make(key=per_key), await make(key=per_key)
    admitted = 0
    for i in range(10):
        admitted += await (a if i % 2 else b).check(ORG, WS, KEY) is None
        clock.advance(1)
    assert admitted == 4  # N in total across both, not 2N
    # Retry-After from the shared window: the first event (t=0) leaves at 60; now is t=10.
    assert await a.check(ORG, WS, KEY) == Denial(429, "KEY_RATE_LIMIT_EXCEEDED", 50)


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_both_backends_evaluate_in_the_same_order(kind: str, make: Make, clock: ManualClock) -> None:
    key = Thresholds(requests_per_minute=2, tokens_per_day=10)
    workspace = Thresholds(requests_per_minute=1)
    if kind == "redis":
        lim = await make(key=key, workspace=workspace)
    else:
        rules = LimitRules(key, workspace)
        lim = Limiter(rules, MemoryBackend(rules, clock.wall), wall=clock.wall)
        await lim.start(None)
    assert await lim.check(ORG, WS, KEY) is None
    clock.advance(20)
    assert await lim.check(ORG, WS, KEY) == Denial(429, "WORKSPACE_RATE_LIMIT_EXCEEDED", 40)
    clock.advance(1)
    assert await lim.check(ORG, WS, KEY) == Denial(429, "KEY_RATE_LIMIT_EXCEEDED", 39)
    lim.observe(record(10))
    if kind == "redis":
        assert await redis_of(lim).flush()
    assert await lim.check(ORG, WS, KEY) == Denial(429, "KEY_DAILY_TOKENS_EXCEEDED")


async def test_a_daily_quota_reached_on_one_instance_blocks_the_other(make: Make) -> None:
    workspace = Thresholds(cost_usd_per_day=1.0)
    a, b = await make(workspace=workspace), await make(workspace=workspace)
    a.observe(record(100, 0.6))
    a.observe(record(100, 0.4, key="other"))  # same workspace, another key
    assert await redis_of(a).flush()
    assert await b.check(ORG, WS, KEY) == Denial(429, "WORKSPACE_DAILY_COST_EXCEEDED")
    assert await b.check(ORG, "ws-2", KEY) is None


async def test_limits_own_reader_sees_the_shared_window(make: Make, clock: ManualClock) -> None:
    lim = await make(key=Thresholds(requests_per_minute=5))
    clock.advance(time.time() - clock.wall())  # `limits`' reader uses the real clock
    for _ in range(3):
        assert await lim.check(ORG, WS, KEY) is None
    item = rate_item(5, "key")
    assert item is not None
    stats = await MovingWindowRateLimiter(redis_of(lim).storage).get_window_stats(item, f"{ORG}|{WS}|{KEY}")
    assert stats.remaining == 2


async def test_seeding_raises_counters_once_however_many_instances_seed(make: Make) -> None:
    a, b = await make(key=Thresholds(tokens_per_day=100)), await make(key=Thresholds(tokens_per_day=100))
    totals = {f"k:{ORG}|{WS}|{KEY}": Usage(60, 0.5)}
    await a.backend.seed("2025-06-01", totals)
    await b.backend.seed("2025-06-01", totals)  # a second instance starting: no double count
    await a.backend.seed("2025-06-01", {f"k:{ORG}|{WS}|{KEY}": Usage(10, 0.1)})  # lower: ignored
    assert await b.check(ORG, WS, KEY) is None
    a.observe(record(40))
    assert await redis_of(a).flush()
    assert await b.check(ORG, WS, KEY) == Denial(429, "KEY_DAILY_TOKENS_EXCEEDED")  # 60 + 40


async def test_concurrency_leases_are_shared_released_and_age_out(make: Make, clock: ManualClock) -> None:
    a, b = await make(key=Thresholds(concurrent=1)), await make(key=Thresholds(concurrent=1))
    lease = await a.check(ORG, WS, KEY)
    assert lease is not None and not isinstance(lease, Denial)
    assert await b.check(ORG, WS, KEY) == Denial(429, "KEY_CONCURRENCY_LIMIT_EXCEEDED")
    lease.release()
    assert await redis_of(a).flush()
    crashed = await b.check(ORG, WS, KEY)  # taken by b, which then "crashes" without releasing
    assert crashed is not None and not isinstance(crashed, Denial)
    assert await a.check(ORG, WS, KEY) == Denial(429, "KEY_CONCURRENCY_LIMIT_EXCEEDED")
    clock.advance(LEASE_STALE_S + 1)  # no heartbeat for longer than a lease lives
    assert not isinstance(await a.check(ORG, WS, KEY), Denial)


async def test_redis_going_away_fails_open_visibly_and_recovers(
    make: Make, redis_url: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    host_port = redis_url.split("//", 1)[1].split("/", 1)
    host, port = host_port[0].split(":")
    relay = TcpRelay(host, int(port))
    await relay.start()
    try:
        url = f"redis://127.0.0.1:{relay.port}/{host_port[1]}"
        lim = await make(key=Thresholds(requests_per_minute=1, tokens_per_day=1000), url=url)
        backend = redis_of(lim)
        assert await lim.check(ORG, WS, KEY) is None
        assert isinstance(await lim.check(ORG, WS, KEY), Denial)  # the limit holds while Redis answers

        relay.switch_off()
        with caplog.at_level(logging.WARNING, logger="ongoingai.limits.redis_backend"):
            for _ in range(5):
                assert await lim.check(ORG, WS, KEY) is None  # admitted unchecked
                clock.advance(0.3)
            lim.observe(record(7))  # usage during the outage is kept for later
            assert not await backend.flush()
            health = lim.health()
            assert (health["healthy"], health["outages_total"], health["last_error"]) == (
                False,
                1,
                "ConnectionError",
            )
            assert health["fail_open_total"] == 5
            assert health["pending_usage_scopes"] == 2
            relay.switch_on()
            clock.advance(2)  # past the one-second pause after a failure
            assert await backend.flush()
        messages = [r.getMessage() for r in caplog.records]
        assert messages.count("limits backend unreachable; failing open") == 1  # once per outage
        assert messages.count("limits backend reachable again") == 1
        assert lim.health()["healthy"] is True
        dump = redis_dump(redis_url)
        assert "b'tokens': b'7'" in dump  # the outage's usage reached Redis after all
        assert isinstance(await lim.check(ORG, WS, KEY), Denial)  # enforcing again
    finally:
        await relay.close()


async def test_through_the_gateway_requests_keep_flowing_while_redis_is_away(
    make_stack: StackFactory, upstream: FakeUpstream, redis_url: str
) -> None:
    host, rest = redis_url.split("//", 1)[1].split(":", 1)
    port, db = rest.split("/", 1)
    relay = TcpRelay(host, int(port))
    await relay.start()
    try:
        limits = {
            "backend": "redis",
            "redis_url": f"redis://127.0.0.1:{relay.port}/{db}",
            "per_key": {"requests_per_minute": 2, "max_concurrent_requests": 1},
        }
        stack = await make_stack(limits)
        script_chat(upstream, 6)
        assert [(await stack.chat()).status_code for _ in range(3)] == [200, 200, 429]
        relay.switch_off()
        assert [(await stack.chat()).status_code for _ in range(3)] == [200, 200, 200]  # fail open
        body = (await stack.client.get("/api/diagnostics/limits", headers={HEADER: TOKEN_A})).json()["limits"]
        assert (body["backend"], body["healthy"], body["fail_open_total"]) == ("redis", False, 3)
        assert body["last_error"] and "127.0.0.1" not in body["last_error"]
        assert len(upstream.received) == 5
    finally:
        await relay.close()
