"""Server-sent events: an incremental splitter for bytes read in arbitrary chunks, and their JSON payloads.

Line handling follows proxy.md §7 (lines are trimmed; `data:` remainders trimmed; empty and `[DONE]`
payloads skipped; payloads that are not JSON objects ignored) on top of the SSE framing of the WHATWG
spec: LF, CRLF and CR end lines, `:` lines are comments (heartbeats), `event:` names the event, several
`data:` lines of one event are joined with `\\n`, and a blank line ends the event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from ongoingai.providers.fields import Json

DONE = "[DONE]"


@dataclass(frozen=True, slots=True)
class SseEvent:
    event: str  # the `event:` value; "" when the event had none (SSE then calls it "message")
    data: str  # the `data:` values joined with "\n"


class SseSplitter:
    """Turns chunks of an SSE byte stream into events, whatever byte the chunks are split at."""

    def __init__(self) -> None:
        self._partial: list[bytes] = []  # bytes of the line not yet ended
        self._skip_lf = False  # the last chunk ended with CR: a LF opening the next one is that CRLF's end
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SseEvent]:
        if not chunk:
            return []  # an empty read must not forget a CR that ended the previous one
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._skip_lf = False
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if end < 0:
            if chunk:
                self._partial.append(chunk)
            return []
        complete = b"".join(self._partial) + chunk[: end + 1]
        rest = chunk[end + 1 :]
        self._partial = [rest] if rest else []
        self._skip_lf = not rest and chunk.endswith(b"\r")
        return self._lines(complete.splitlines())

    def finish(self) -> list[SseEvent]:
        """End of stream: the last line and event count even without their terminators (a truncated
        prefix ends mid-line; a payload cut short is not valid JSON and is dropped by `payloads_of`)."""
        lines = [b"".join(self._partial)] if self._partial else []
        self._partial = []
        return self._lines([*lines, b""])

    def _lines(self, lines: Iterable[bytes]) -> list[SseEvent]:
        events: list[SseEvent] = []
        for raw in lines:
            line = raw.strip()
            if not line:
                if self._data:
                    events.append(SseEvent(self._event, "\n".join(self._data)))
                self._event = ""
                self._data = []
            elif line.startswith(b"data:"):
                self._data.append(line[5:].strip().decode("utf-8", "replace"))
            elif line == b"data":
                self._data.append("")
            elif line.startswith(b"event:"):
                self._event = line[6:].strip().decode("utf-8", "replace")
            # `:` comments, `id:`, `retry:` and unknown fields carry nothing we read
        return events


def payloads_of(event: SseEvent, parsed: dict[str, Json] | None = None) -> list[Json]:
    """The JSON objects an event carries: normally one; none for `[DONE]`, empty or non-object data.

    When joined multi-line data is not one object, each line is tried on its own: the original gateway
    read every `data:` line as a separate payload, and some servers stream that way. `parsed`, when
    given, receives each object under the exact text it was parsed from (see `ParsedStream`).
    """
    text = event.data.strip()
    if not text or text == DONE:
        return []
    whole = _json_object(text)
    if whole is not None:
        if parsed is not None:
            parsed[text] = whole
        return [whole]
    if "\n" not in text:
        return []
    found: list[Json] = []
    for line in text.split("\n"):
        piece = line.strip()
        obj = _json_object(piece)
        if obj is not None:
            found.append(obj)
            if parsed is not None:
                parsed[piece] = obj
    return found


def _json_object(text: str) -> Json | None:
    if not text.startswith("{"):
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class SsePayloads:
    """Incremental JSON payloads of an SSE stream: `feed` chunks as they arrive, then `finish`."""

    def __init__(self) -> None:
        self._splitter = SseSplitter()

    def feed(self, chunk: bytes) -> list[Json]:
        return [p for event in self._splitter.feed(chunk) for p in payloads_of(event)]

    def finish(self) -> list[Json]:
        return [p for event in self._splitter.finish() for p in payloads_of(event)]


def parse_sse_events(body: bytes) -> list[SseEvent]:
    """Every event of a whole buffered stream."""
    splitter = SseSplitter()
    return splitter.feed(body) + splitter.finish()


def parse_sse_payloads(body: bytes) -> list[Json]:
    """Every JSON object payload of a whole buffered stream, in order."""
    return [p for event in parse_sse_events(body) for p in payloads_of(event)]


@dataclass(frozen=True, slots=True)
class ParsedStream:
    """A whole buffered stream, split and JSON-parsed once for every reader of it.

    `payloads` is what `parse_sse_payloads` returns. `objects` maps each text that was parsed to the
    object orjson read from it (`objects[t] == orjson.loads(t)`, always a dict): the storage redactor
    meets the same payload texts on its `data:` lines and looks them up instead of parsing them again.
    The objects are shared, so readers must not change them.
    """

    payloads: list[Json]
    objects: dict[str, Json]


def parse_stream(body: bytes) -> ParsedStream:
    objects: dict[str, Json] = {}
    payloads = [p for event in parse_sse_events(body) for p in payloads_of(event, objects)]
    return ParsedStream(payloads, objects)
