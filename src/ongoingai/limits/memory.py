"""`MemoryBackend`: every counter in this process (`limits.backend: memory`).

Request rate is `limits`' moving-window strategy over `ClockedMemoryStorage`; day usage and in-flight
counts are dicts. The event loop is the only caller and nothing here awaits, so a check and its updates
are one atomic step (limits.md §4 "Concurrency"). With several gateway processes each one counts alone:
that is what the `redis` backend is for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.strategies import MovingWindowRateLimiter

from ongoingai.limits.backend import Lease, Usage
from ongoingai.limits.rules import (
    KEY_CONCURRENCY,
    KEY_DAILY_COST,
    KEY_DAILY_TOKENS,
    KEY_RATE,
    WORKSPACE_CONCURRENCY,
    WORKSPACE_DAILY_COST,
    WORKSPACE_DAILY_TOKENS,
    WORKSPACE_RATE,
    Denial,
    LimitRules,
    Subject,
    Thresholds,
    denied,
)
from ongoingai.limits.window_storage import ClockedMemoryStorage


def rate_item(per_minute: int, scope: str) -> RateLimitItem | None:
    """The `limits` item of one scope's requests-per-minute (None when off); `scope` names its keys."""
    return RateLimitItemPerMinute(per_minute, namespace=f"rpm-{scope}") if per_minute > 0 else None


def over_daily(usage: Usage | None, limits: Thresholds) -> tuple[bool, bool]:
    """(tokens reached, cost reached): limits.md §3.1 compares with `>=`."""
    if usage is None:
        return False, False
    tokens = 0 < limits.tokens_per_day <= usage.tokens
    cost = 0 < limits.cost_usd_per_day <= usage.cost_usd
    return tokens, cost


class _MemoryLease:
    __slots__ = ("_counts", "_scopes")

    def __init__(self, counts: dict[str, int], scopes: tuple[str, ...]) -> None:
        self._counts = counts
        self._scopes = scopes

    def release(self) -> None:
        counts, self._counts = self._counts, {}
        for scope in self._scopes:
            left = counts.get(scope, 0) - 1
            if left > 0:
                counts[scope] = left
            else:
                counts.pop(scope, None)
        self._scopes = ()


class MemoryBackend:
    name = "memory"
    errors: tuple[type[Exception], ...] = ()

    def __init__(self, rules: LimitRules, clock: Callable[[], float]) -> None:
        self._rules = rules
        self._windows = MovingWindowRateLimiter(ClockedMemoryStorage(clock))
        self._key_rate = rate_item(rules.per_key.requests_per_minute, "key")
        self._workspace_rate = rate_item(rules.per_workspace.requests_per_minute, "workspace")
        self._usage: dict[str, dict[str, Usage]] = {}  # day → usage scope → usage
        self._inflight: dict[str, int] = {}

    async def admit(self, subject: Subject, now: float, day: str) -> Denial | Lease | None:
        rules = self._rules
        if rules.daily:
            refusal = self._daily(subject, day)
            if refusal is not None:
                return refusal
        if self._key_rate is not None and not self._windows.hit(self._key_rate, subject.key):
            return denied(KEY_RATE, self._retry_after(self._key_rate, subject.key, now))
        # The key's event stays recorded when the workspace refuses (limits.md §4 "Order effect").
        if self._workspace_rate is not None and not self._windows.hit(
            self._workspace_rate, subject.workspace
        ):
            return denied(WORKSPACE_RATE, self._retry_after(self._workspace_rate, subject.workspace, now))
        if rules.concurrent:
            return self._acquire(subject)
        return None

    def _daily(self, subject: Subject, day: str) -> Denial | None:
        usage = self._usage.get(day, {})
        tokens, cost = over_daily(usage.get(subject.key_usage), self._rules.per_key)
        if tokens or cost:
            return denied(KEY_DAILY_TOKENS if tokens else KEY_DAILY_COST)
        tokens, cost = over_daily(usage.get(subject.workspace_usage), self._rules.per_workspace)
        if tokens or cost:
            return denied(WORKSPACE_DAILY_TOKENS if tokens else WORKSPACE_DAILY_COST)
        return None

    def _retry_after(self, item: RateLimitItem, scope: str, now: float) -> int:
        """limits.md §4: seconds until the oldest event leaves the window, rounded up, at least 1."""
        reset = self._windows.get_window_stats(item, scope).reset_time
        return max(1, math.ceil(reset - now))

    def _acquire(self, subject: Subject) -> Denial | Lease | None:
        key_cap = self._rules.per_key.concurrent
        workspace_cap = self._rules.per_workspace.concurrent
        counts = self._inflight
        if key_cap and counts.get(subject.key, 0) >= key_cap:
            return denied(KEY_CONCURRENCY)
        if workspace_cap and counts.get(subject.workspace, 0) >= workspace_cap:
            return denied(WORKSPACE_CONCURRENCY)
        scopes = tuple(s for s, cap in ((subject.key, key_cap), (subject.workspace, workspace_cap)) if cap)
        for scope in scopes:
            counts[scope] = counts.get(scope, 0) + 1
        return _MemoryLease(counts, scopes)

    def in_flight(self, scope: str) -> int:
        return self._inflight.get(scope, 0)

    def usage(self, day: str, scope: str) -> Usage:
        return self._usage.get(day, {}).get(scope) or Usage()

    def add_usage(self, day: str, scopes: tuple[str, ...], tokens: int, cost_usd: float) -> None:
        by_scope = self._day(day)
        for scope in scopes:
            entry = by_scope.get(scope)
            if entry is None:
                entry = by_scope[scope] = Usage()
            entry.add(tokens, cost_usd)

    async def seed(self, day: str, totals: Mapping[str, Usage]) -> None:
        by_scope = self._day(day)
        for scope, total in totals.items():
            by_scope.setdefault(scope, Usage()).raise_to(total)

    def _day(self, day: str) -> dict[str, Usage]:
        by_scope = self._usage.get(day)
        if by_scope is None:
            by_scope = self._usage[day] = {}
            # Keep the two latest days (a trace of yesterday may still be built just after midnight).
            while len(self._usage) > 2:
                del self._usage[min(self._usage)]
        return by_scope

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def health(self) -> dict[str, Any]:
        return {"backend": self.name, "healthy": True, "shared": False}
