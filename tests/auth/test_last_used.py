"""`last_used_at` batching: a dict write per request, one batched statement per flush."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import OperationalError

from ongoingai.auth.last_used import LastUsedRecorder
from tests.fakes.clocks import ManualClock


class RecordingWriter:
    def __init__(self) -> None:
        self.batches: list[dict[str, datetime]] = []
        self.fail = False

    async def touch_last_used(self, used: Mapping[str, datetime]) -> None:
        if self.fail:
            raise OperationalError("UPDATE", {}, Exception("connection refused"))
        self.batches.append(dict(used))


async def test_many_uses_become_one_batch_with_the_newest_time_per_key() -> None:
    clock = ManualClock()
    recorder = LastUsedRecorder(clock.wall)
    writer = RecordingWriter()
    for _ in range(100):
        recorder.touch("a")
        clock.advance(1)
    recorder.touch("b")

    await recorder.flush(writer)
    await recorder.flush(writer)  # nothing new: no write

    assert writer.batches == [{"a": datetime.fromtimestamp(clock.wall() - 1, UTC), "b": clock.now}]
    assert recorder.pending == 0


async def test_a_failed_flush_is_logged_and_kept_for_the_next(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    recorder = LastUsedRecorder(clock.wall)
    writer = RecordingWriter()
    recorder.touch("a")
    writer.fail = True

    await recorder.flush(writer)
    assert "failed to update gateway key last_used_at" in caplog.text
    assert recorder.pending == 1

    writer.fail = False
    await recorder.flush(writer)
    assert writer.batches == [{"a": clock.now}]


async def test_a_use_between_a_failed_flush_and_the_retry_keeps_the_newest_time() -> None:
    clock = ManualClock()
    recorder = LastUsedRecorder(clock.wall)
    writer = RecordingWriter()
    recorder.touch("a")
    writer.fail = True
    await recorder.flush(writer)
    clock.advance(5)
    recorder.touch("a")

    writer.fail = False
    await recorder.flush(writer)

    assert writer.batches == [{"a": clock.now}]


async def test_seen_reports_the_last_use_even_without_a_writer() -> None:
    clock = ManualClock()
    recorder = LastUsedRecorder(clock.wall)
    assert recorder.seen("a") is None

    recorder.touch("a")
    await recorder.flush(None)

    assert recorder.seen("a") == clock.now
    assert recorder.pending == 0
