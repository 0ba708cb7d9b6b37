"""The boundary between the limiter and where its counters live (`memory`, `redis`), and the UTC day.

A backend answers one question per request (`admit`), takes usage as traces are built (`add_usage`),
and raises day totals to what the store says (`seed`). Everything it is given is ids and numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ongoingai.limits.rules import Denial, Subject

DAY_S = 86_400


class Lease(Protocol):
    """One admitted request's concurrency slots; `release()` is idempotent and never waits."""

    def release(self) -> None: ...


@dataclass(slots=True)
class Usage:
    """Tokens and cost of one scope on one UTC day."""

    tokens: int = 0
    cost_usd: float = 0.0

    def add(self, tokens: int, cost_usd: float) -> None:
        self.tokens += tokens
        self.cost_usd += cost_usd

    def raise_to(self, other: Usage) -> None:
        # Seeding takes the larger of what was counted and what the store holds: a trace counted here and
        # already written is in both, so adding would count it twice (docs/limits.md "Seeding").
        self.tokens = max(self.tokens, other.tokens)
        self.cost_usd = max(self.cost_usd, other.cost_usd)


class LimitBackend(Protocol):
    name: str
    errors: tuple[type[Exception], ...]  # what `seed` raises when the backend does not answer

    async def admit(self, subject: Subject, now: float, day: str) -> Denial | Lease | None:
        """Evaluate limits.md §3 (+ concurrency) and record what an admitted request consumes.

        None: admitted with nothing to release. A Lease: admitted holding concurrency slots.
        """

    def add_usage(self, day: str, scopes: tuple[str, ...], tokens: int, cost_usd: float) -> None:
        """Count a built trace's usage in each scope; never blocks (a Redis backend flushes later)."""

    async def seed(self, day: str, totals: Mapping[str, Usage]) -> None:
        """Raise the day's counters to the store's totals (never lower them)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def health(self) -> dict[str, Any]:
        """Backend name, reachability and counters for `/api/diagnostics/limits` and logs."""


class DayClock:
    """The UTC day (`YYYY-MM-DD`) of a wall-clock time, recomputed only when a day boundary is crossed."""

    def __init__(self) -> None:
        self._day = ""
        self._start = 0.0
        self._end = 0.0

    def day(self, now: float) -> str:
        if not self._start <= now < self._end:
            self._roll(now)
        return self._day

    def start_of(self, now: float) -> float:
        self.day(now)
        return self._start

    def next_boundary(self, now: float) -> float:
        self.day(now)
        return self._end

    def _roll(self, now: float) -> None:
        moment = datetime.fromtimestamp(now, UTC)
        midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        self._day = midnight.date().isoformat()
        self._start = midnight.timestamp()
        self._end = (midnight + timedelta(days=1)).timestamp()
