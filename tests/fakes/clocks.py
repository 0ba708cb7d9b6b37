"""`ManualClock`: time that moves only when a test says so (monotonic seconds, wall seconds, datetimes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


class ManualClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start
        self._mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self._mono += seconds

    def monotonic(self) -> float:
        return self._mono

    def wall(self) -> float:
        return self.now.timestamp()

    def datetime(self) -> datetime:
        return self.now
