"""`Limiter`: the limits of one gateway process, as the auth layer and the trace path see them.

`check(org, workspace, key)` runs at auth-and-tenancy.md §7 step g and returns a `Denial`, a `Lease`
(concurrency slots to release when the response ends) or None. `observe(record)` counts a built trace
in the day counters. `start(connect)` seeds today's counters from the store and keeps one owned task that
re-seeds after each UTC midnight (and retries a failed seed); until the first seed has read the store,
daily quotas answer 503 (limits.md §5: a store error fails closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from ongoingai.config import Settings
from ongoingai.limits.backend import DayClock, Lease, LimitBackend
from ongoingai.limits.rules import UNAVAILABLE, Denial, LimitRules, Subject
from ongoingai.limits.seed import Connect, read_day_totals, usage_scopes
from ongoingai.traces import TraceRecord

logger = logging.getLogger(__name__)

SEED_RETRY_S = 5.0
BOUNDARY_GRACE_S = 1.0  # seed a moment after midnight, once the new day's first traces can be counted
STORE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


def build_backend(settings: Settings, rules: LimitRules, wall: Callable[[], float]) -> LimitBackend:
    # Imported here: a gateway without limits loads neither `limits` nor a Redis client at start.
    if settings.limits.backend == "redis":
        from ongoingai.limits.redis_backend import RedisBackend

        return RedisBackend(rules, settings.limits.redis_url.get_secret_value().strip(), wall=wall)
    from ongoingai.limits.memory import MemoryBackend

    return MemoryBackend(rules, wall)


class Limiter:
    def __init__(
        self, rules: LimitRules, backend: LimitBackend, *, wall: Callable[[], float] = time.time
    ) -> None:
        self.rules = rules
        self.backend = backend
        self._wall = wall
        self._days = DayClock()
        self.seeded = not rules.daily  # daily quotas need the store's totals first
        self.seeded_day = ""
        self.rejected: Counter[str] = Counter()
        self._seed_errors: tuple[type[Exception], ...] = (*STORE_ERRORS, *backend.errors)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @classmethod
    def from_settings(cls, settings: Settings, *, wall: Callable[[], float] = time.time) -> Limiter | None:
        """None when limits are never evaluated: auth off, or every threshold off (limits.md §2)."""
        rules = LimitRules.from_settings(settings.limits)
        if not settings.auth.enabled or not rules.enabled:
            return None
        return cls(rules, build_backend(settings, rules, wall), wall=wall)

    async def check(self, org_id: str, workspace_id: str, key_id: str) -> Denial | Lease | None:
        if not self.seeded:
            self.rejected["usage_limit_check_unavailable"] += 1
            return UNAVAILABLE
        now = self._wall()
        result = await self.backend.admit(Subject.of(org_id, workspace_id, key_id), now, self._days.day(now))
        if isinstance(result, Denial):
            self.rejected[result.code] += 1
        return result

    def observe(self, record: TraceRecord) -> None:
        """Count a built trace's tokens and cost in its key's and workspace's day (off the request path)."""
        if not self.rules.daily or (record.total_tokens <= 0 and record.estimated_cost_usd <= 0):
            return
        # The trace's timestamp is its build time, i.e. now: the limiter's own clock names the same day.
        day = self._days.day(self._wall())
        scopes = usage_scopes(record.org_id, record.workspace_id, record.gateway_key_id or "")
        self.backend.add_usage(day, scopes, record.total_tokens, record.estimated_cost_usd)

    async def start(self, connect: Connect | None) -> None:
        await self.backend.start()
        if not self.rules.daily:
            return
        if connect is None:
            self.seeded = True  # nothing persisted to seed from
            return
        await self.seed(connect)
        # Owned here, stopped and awaited by stop().
        self._task = asyncio.create_task(self._day_loop(connect), name="ongoingai-limits-day-seed")

    async def seed(self, connect: Connect) -> bool:
        """Raise today's counters to the store's totals; False (logged) when the store or backend failed."""
        now = self._wall()
        day = self._days.day(now)
        try:
            totals = await read_day_totals(connect, self._days.start_of(now))
            self.seeded = True  # the day's spend is known; a backend failure below is retried
            await self.backend.seed(day, totals)
        except self._seed_errors as exc:
            logger.warning(
                "failed to seed daily usage counters",
                extra={"limits_backend": self.backend.name, "error_kind": type(exc).__name__},
            )
            return False
        self.seeded_day = day
        logger.info("seeded daily usage counters", extra={"day": day, "scope_count": len(totals)})
        return True

    async def _day_loop(self, connect: Connect) -> None:
        while True:
            now = self._wall()
            if self.seeded_day == self._days.day(now):
                wait = self._days.next_boundary(now) - now + BOUNDARY_GRACE_S
            else:
                wait = SEED_RETRY_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)
            if self._stopping.is_set():
                return
            await self.seed(connect)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 5.0)
            self._task = None
        await self.backend.close()

    def health(self) -> dict[str, Any]:
        return {
            "enabled": True,
            **self.backend.health(),
            "daily_quotas": self.rules.daily,
            "daily_usage_seeded": self.seeded,
            "seeded_day": self.seeded_day,
            "rejected_total": dict(sorted(self.rejected.items())),
        }


def disabled_health(settings: Settings) -> dict[str, Any]:
    """What diagnostics say when no limiter runs, and why."""
    reason = "auth disabled" if not settings.auth.enabled else "no thresholds set"
    return {"enabled": False, "backend": settings.limits.backend, "reason": reason}
