"""configure_logging's handler: lines written in order with their context; one flush per loop iteration."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator

import orjson
import pytest

from ongoingai.observability.logging import CORRELATION_ID, configure_logging

LOGGER = logging.getLogger("tests.observability.writer")


class FlushCounter(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0
        self.unflushed = 0  # lines written since the last flush

    def write(self, text: str) -> int:
        self.unflushed += text.count("\n")
        return super().write(text)

    def flush(self) -> None:
        self.flushes += 1
        self.unflushed = 0
        super().flush()


@pytest.fixture
def stream() -> Iterator[FlushCounter]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    counter = FlushCounter()
    configure_logging("info", "json", stream=counter)
    yield counter
    root.handlers[:] = handlers
    root.setLevel(level)


def parsed(text: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in text.splitlines()]


async def test_lines_of_one_loop_iteration_go_out_in_one_flush_in_order(stream: FlushCounter) -> None:
    token = CORRELATION_ID.set("corr-writer")
    try:
        for n in range(50):
            LOGGER.info("line", extra={"n": n})
    finally:
        CORRELATION_ID.reset(token)
    assert stream.flushes == 0 and stream.unflushed == 50  # buffered until the loop gets control back
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert stream.flushes == 1 and stream.unflushed == 0
    lines = parsed(stream.getvalue())
    assert [line["n"] for line in lines] == list(range(50))
    assert {line["correlation_id"] for line in lines} == {"corr-writer"}


async def test_a_lone_line_is_flushed_in_the_next_iteration(stream: FlushCounter) -> None:
    LOGGER.warning("alone")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert stream.unflushed == 0 and parsed(stream.getvalue())[0]["msg"] == "alone"


def test_off_the_event_loop_every_line_is_flushed_at_once(stream: FlushCounter) -> None:
    LOGGER.info("one")
    assert stream.unflushed == 0 and stream.flushes == 1
    LOGGER.info("two")
    assert stream.unflushed == 0 and stream.flushes == 2
