"""`ClockedMemoryStorage`: a `limits` storage for the moving window, in process, on an injected clock.

`limits`' own `MemoryStorage` reads `time.time()` itself and expires entries from a timer thread that
wakes every 10 ms; the gateway needs neither: tests drive time by hand, and the event loop is the only
caller, so no lock is needed. Entries are kept oldest first and pruned as they are touched; keys that went
quiet are dropped at most every two minutes (limits.md §4 "Housekeeping").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from limits.storage import MovingWindowSupport, Storage

SWEEP_INTERVAL_S = 120.0


class ClockedMemoryStorage(Storage, MovingWindowSupport):
    STORAGE_SCHEME = None  # not reachable through `limits.storage_from_string`: built directly

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__()
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._counters: dict[str, tuple[int, float]] = {}
        self._next_sweep = clock() + SWEEP_INTERVAL_S

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ()  # nothing here can fail the way a remote storage does

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now, expiry)
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
        else:
            _prune(events, now - expiry)
        if len(events) + amount > limit:
            return False  # limits.md §4: a rejected request is not recorded
        events.extend([now] * amount)
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = self._clock()
        events = self._events.get(key)
        if not events:
            return now, 0
        _prune(events, now - expiry)
        return (events[0], len(events)) if events else (now, 0)

    def _sweep(self, now: float, expiry: int) -> None:
        for key in [k for k, events in self._events.items() if not events or events[-1] < now - expiry]:
            del self._events[key]
        self._next_sweep = now + SWEEP_INTERVAL_S

    # Fixed-window counters: part of the `limits` storage contract; the gateway does not use them.
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self._clock()
        value, expires = self._counters.get(key, (0, 0.0))
        value = value + amount if expires > now else amount
        self._counters[key] = (value, expires if expires > now else now + expiry)
        return value

    def get(self, key: str) -> int:
        value, expires = self._counters.get(key, (0, 0.0))
        return value if expires > self._clock() else 0

    def get_expiry(self, key: str) -> float:
        return self._counters.get(key, (0, self._clock()))[1]

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        count = len(self._events) + len(self._counters)
        self._events.clear()
        self._counters.clear()
        return count

    def clear(self, key: str) -> None:
        self._events.pop(key, None)
        self._counters.pop(key, None)


def _prune(events: deque[float], oldest_kept: float) -> None:
    """limits.md §4 "Prune": drop timestamps strictly older than now − window."""
    while events and events[0] < oldest_kept:
        events.popleft()
