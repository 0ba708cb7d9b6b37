"""`RedisBackend`: counters every gateway instance shares (`limits.backend: redis`).

Per request one EVALSHA (`redis_scripts.ADMIT`): one round trip, atomic, in limits.md §3 order. Usage of
built traces and lease releases are written by one background task in pipelined batches, never on a
request's path. When Redis does not answer, rate and concurrency limits and the daily quotas fail open:
the request is admitted, the outage is logged once, counted, and reported by diagnostics and `doctor`
(docs/limits.md "Failure modes"); for a second after a failure requests do not even try Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from limits.aio.storage import RedisStorage
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ongoingai.limits.backend import DAY_S, Lease, Usage
from ongoingai.limits.memory import rate_item
from ongoingai.limits.pending import PendingWrites
from ongoingai.limits.redis_scripts import ADMIT, SEED
from ongoingai.limits.rules import CODES, WINDOW_S, Denial, LimitRules, Subject, denied

logger = logging.getLogger(__name__)

PREFIX = "ongoingai:limits"
REDIS_ERRORS = (RedisError, OSError, TimeoutError)
SOCKET_TIMEOUT_S = 0.5
RETRY_AFTER_FAILURE_S = 1.0
FLUSH_INTERVAL_S = 0.05  # a burst of traces becomes one pipeline
HEARTBEAT_S = 30.0  # in-flight leases of this instance are re-scored this often...
LEASE_STALE_S = 120.0  # ...and counted until this long after their last heartbeat
DAY_TTL_S = 2 * DAY_S  # a day's usage hash outlives its day, for late traces and diagnostics
STOP_TIMEOUT_S = 2.0


def limits_uri(url: str) -> str:
    """`limits`' scheme for an async redis-py storage (`async+redis://`, `async+redis+unix://`)."""
    scheme, sep, rest = url.partition("://")
    scheme = "redis+unix" if scheme == "unix" else scheme
    return f"async+{scheme}{sep}{rest}"


def connection_pool(url: str, timeout: float = SOCKET_TIMEOUT_S) -> ConnectionPool:
    return ConnectionPool.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),  # one retry on a dropped pooled connection; no backoff sleeps
    )


def limits_storage(url: str, pool: ConnectionPool) -> RedisStorage:
    """`limits`' view of our pool (`connection_pool` is a documented option its annotation omits)."""
    shared: dict[str, Any] = {"connection_pool": pool}
    return RedisStorage(limits_uri(url), implementation="redispy", key_prefix=PREFIX, **shared)


async def ping(url: str, timeout: float = 2.0) -> bool:
    """Whether Redis at `url` answers PING within `timeout` s (`doctor`)."""
    pool = connection_pool(url, timeout)
    try:
        return await limits_storage(url, pool).check()
    finally:
        await pool.disconnect()


class _RedisLease:
    __slots__ = ("_backend", "_lease_id", "_sets")

    def __init__(self, backend: RedisBackend, lease_id: str, sets: tuple[str, ...]) -> None:
        self._backend = backend
        self._lease_id = lease_id
        self._sets = sets

    def release(self) -> None:
        sets, self._sets = self._sets, ()
        if sets:
            self._backend.release(self._lease_id, sets)


class RedisBackend:
    name = "redis"
    errors: tuple[type[Exception], ...] = REDIS_ERRORS

    def __init__(
        self,
        rules: LimitRules,
        url: str,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._rules = rules
        self._monotonic = monotonic
        self._wall = wall
        self._pool = connection_pool(url)
        # `limits` owns the storage view of the same pool: health checks and its moving-window readers.
        self.storage = limits_storage(url, self._pool)
        self._client: Redis = Redis(connection_pool=self._pool)
        self._admit = self._client.register_script(ADMIT)
        self._seed = self._client.register_script(SEED)
        self._key_rate = rate_item(rules.per_key.requests_per_minute, "key")
        self._workspace_rate = rate_item(rules.per_workspace.requests_per_minute, "workspace")
        self._static_args: list[str | int | float] = [
            WINDOW_S,
            rules.per_key.tokens_per_day,
            repr(rules.per_key.cost_usd_per_day),
            rules.per_workspace.tokens_per_day,
            repr(rules.per_workspace.cost_usd_per_day),
            rules.per_key.requests_per_minute,
            rules.per_workspace.requests_per_minute,
            rules.per_key.concurrent,
            rules.per_workspace.concurrent,
        ]
        self._lease_prefix = os.urandom(6).hex() + ":"  # this instance; ids only, nothing secret
        self._lease_ids = itertools.count(1)
        self._leases: dict[str, tuple[str, ...]] = {}
        self._pending = PendingWrites()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._down_until = 0.0
        self.healthy = True
        self.fail_open_total = 0
        self.errors_total = 0
        self.outages_total = 0
        self.last_error = ""

    def window_key(self, scope: str, kind: str) -> str:
        item = self._key_rate if kind == "key" else self._workspace_rate
        return f"{PREFIX}:{item.key_for(scope)}" if item is not None else f"{PREFIX}:rpm-off"

    @staticmethod
    def day_key(day: str, usage_scope: str) -> str:
        return f"{PREFIX}:day:{day}:{usage_scope}"

    @staticmethod
    def in_flight_key(kind: str, scope: str) -> str:
        return f"{PREFIX}:inflight:{kind}:{scope}"

    async def admit(self, subject: Subject, now: float, day: str) -> Denial | Lease | None:
        if self._monotonic() < self._down_until:
            self.fail_open_total += 1
            return None
        concurrent = self._rules.concurrent
        lease_id = self._lease_prefix + str(next(self._lease_ids)) if concurrent else ""
        keys = [
            self.day_key(day, subject.key_usage),
            self.day_key(day, subject.workspace_usage),
            self.window_key(subject.key, "key"),
            self.window_key(subject.workspace, "workspace"),
            self.in_flight_key("k", subject.key),
            self.in_flight_key("w", subject.workspace),
        ]
        args: list[str | int | float] = [
            repr(now),
            *self._static_args,
            lease_id,
            repr(now - LEASE_STALE_S),
            int(LEASE_STALE_S * 2),
        ]
        released = self._pending.take_releases((keys[4], keys[5])) if concurrent else []
        args.extend(released)
        try:
            index, wait = await self._admit(keys=keys, args=args)
        except REDIS_ERRORS as exc:
            for old_lease in released:
                self._pending.add_release(keys[4], old_lease)
                self._pending.add_release(keys[5], old_lease)
            self._failed(type(exc).__name__)
            self.fail_open_total += 1
            return None
        self._reachable()
        if index:
            code = CODES[int(index) - 1]
            return denied(code, int(wait) if wait else None)
        if not concurrent:
            return None
        sets = tuple(
            key
            for key, cap in zip(
                keys[4:], (self._rules.per_key.concurrent, self._rules.per_workspace.concurrent), strict=True
            )
            if cap
        )
        self._leases[lease_id] = sets
        return _RedisLease(self, lease_id, sets)

    def release(self, lease_id: str, sets: tuple[str, ...]) -> None:
        self._leases.pop(lease_id, None)
        for in_flight_set in sets:
            self._pending.add_release(in_flight_set, lease_id)
        self._wake.set()

    def add_usage(self, day: str, scopes: tuple[str, ...], tokens: int, cost_usd: float) -> None:
        for scope in scopes:
            self._pending.add_usage(day, scope, tokens, cost_usd)
        self._wake.set()

    async def seed(self, day: str, totals: Mapping[str, Usage]) -> None:
        """Raises: RedisError/OSError: Redis did not answer (the caller retries the seed later)."""
        if not totals:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for scope, usage in totals.items():
                args: list[str | int | float] = [usage.tokens, repr(usage.cost_usd), DAY_TTL_S]
                await self._seed(keys=[self.day_key(day, scope)], args=args, client=pipe)
            await pipe.execute()

    async def start(self) -> None:
        if not await self.storage.check():  # not fatal: the gateway serves, failing open, until it answers
            self._failed("ConnectionError")
        # Owned here, stopped and awaited by close().
        self._task = asyncio.create_task(self._run(), name="ongoingai-limits-redis-writer")

    async def close(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, STOP_TIMEOUT_S)
            self._task = None
        await self._client.aclose()
        await self._pool.disconnect()

    async def _run(self) -> None:
        next_heartbeat = self._monotonic() + HEARTBEAT_S
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), HEARTBEAT_S)
            self._wake.clear()
            # Usage waits a moment to batch; releases go at once (other instances wait on them).
            batch_up = not self._stopping and not self._pending.has_releases
            await asyncio.sleep(FLUSH_INTERVAL_S if batch_up else 0)
            heartbeat = self._monotonic() >= next_heartbeat
            if await self.flush(heartbeat=heartbeat) and heartbeat:
                next_heartbeat = self._monotonic() + HEARTBEAT_S
            elif not self.healthy and not self._stopping:
                await asyncio.sleep(RETRY_AFTER_FAILURE_S)
                self._wake.set()

    async def flush(self, *, heartbeat: bool = False) -> bool:
        """Write the pending usage and releases (and heartbeats) in one pipeline; False if Redis failed."""
        batch = self._pending.take()
        leases = dict(self._leases) if heartbeat else {}
        if not batch and not leases:
            return True
        now = self._wall()
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for (day, scope), usage in batch.usage.items():
                    key = self.day_key(day, scope)
                    pipe.hincrby(key, "tokens", usage.tokens)
                    pipe.hincrbyfloat(key, "cost", usage.cost_usd)
                    pipe.expire(key, DAY_TTL_S)
                for in_flight_set, lease_id in batch.releases:
                    pipe.zrem(in_flight_set, lease_id)
                for lease_id, sets in leases.items():
                    for in_flight_set in sets:
                        pipe.zadd(in_flight_set, {lease_id: now}, xx=True)
                await pipe.execute()
        except REDIS_ERRORS as exc:
            self._pending.put_back(batch)
            self._failed(type(exc).__name__)
            return False
        self._reachable()
        return True

    def _failed(self, error_kind: str) -> None:
        self.errors_total += 1
        self.last_error = error_kind  # the exception's class, never its message: that may quote the URL
        self._down_until = self._monotonic() + RETRY_AFTER_FAILURE_S
        if self.healthy:
            self.healthy = False
            self.outages_total += 1
            logger.error(
                "limits backend unreachable; failing open",
                extra={"limits_backend": self.name, "error_kind": self.last_error},
            )

    def _reachable(self) -> None:
        if not self.healthy:
            self.healthy = True
            logger.warning(
                "limits backend reachable again",
                extra={"limits_backend": self.name, "fail_open_total": self.fail_open_total},
            )

    def health(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "healthy": self.healthy,
            "shared": True,
            "fail_open_total": self.fail_open_total,
            "errors_total": self.errors_total,
            "outages_total": self.outages_total,
            "last_error": self.last_error,
            "pending_usage_scopes": self._pending.scopes,
            "in_flight_leases": len(self._leases),
            "dropped_releases": self._pending.dropped_releases,
        }
