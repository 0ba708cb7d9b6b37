"""Redacting a stored SSE response without breaking its framing (DEVIATIONS.md "Redaction details").

Lines, separators and field prefixes are kept byte for byte; only `data:` payloads change. Text deltas
(OpenAI chat `choices[].delta.content` and tool-call arguments, Responses API `*.delta` events, Anthropic
`content_block_delta` `text` / `partial_json` / `thinking`) are joined per stream channel, so a secret
split across events is still found; the rest of each event goes through the ordinary JSON walk. A stream
that the body screen (screen.py) finds clean, its lines, events and joined channels alike, is kept as it came.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from ongoingai.policy.codec import BodyError, NotJson, dump_json, parse_json
from ongoingai.policy.result import Tally
from ongoingai.policy.rules import render_path
from ongoingai.policy.screen import UNREAD, Found, Screen
from ongoingai.policy.text import TextRedactor
from ongoingai.policy.walk import JsonRedactor

PlainRedactor = Callable[[str, str, Tally], str]
ChannelKey = tuple[Any, ...]
Ident = Callable[..., Any]
# (channel key, the dict holding the fragment, its field, the path to it for the audit)
_Location = tuple[ChannelKey, dict[str, Any], str, tuple[Any, ...]]
_LINE_BREAK = re.compile(r"(\r\n|\r|\n)")
_RESPONSES_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.function_call_arguments.delta",
        "response.reasoning_text.delta",
        "response.reasoning_summary_text.delta",
    }
)


_FIELD_START = re.compile(r"\s*(?:data|event|id|retry)?:")
# `redact_sse` without a caller's parse: nothing to look up.
NOTHING_PARSED: Mapping[str, Any] = MappingProxyType({})


def looks_like_sse(text: str) -> bool:
    """A streamed request can still get a plain JSON error back; that must get the JSON walk."""
    return _FIELD_START.match(text) is not None


class _Event:
    __slots__ = ("changed", "line", "prefix", "value")

    def __init__(self, line: int, prefix: str, value: Any) -> None:
        self.line = line
        self.prefix = prefix
        self.value = value
        self.changed = False


class _Fragment:
    __slots__ = ("container", "event", "field", "segments")

    def __init__(
        self, event: _Event, container: dict[str, Any], field: str, segments: tuple[Any, ...]
    ) -> None:
        self.event = event
        self.container = container
        self.field = field
        self.segments = segments


def _ident(value: Any, default: Any = None) -> Any:
    return value if isinstance(value, str | int) else default


class _Unsure(Exception):
    pass


def _screened_ident(value: Any, default: Any = None) -> Any:
    """`_ident` for orjson's values, which hold a float where the standard parser reads an integer beyond
    64 bits: the channels could then differ, so a float ident sends the stream down the ordinary path."""
    if isinstance(value, float):
        raise _Unsure
    return _ident(value, default)


def redact_sse(
    text: str,
    workspace_id: str,
    tally: Tally,
    *,
    json_redactor: JsonRedactor,
    text_redactor: TextRedactor,
    plain: PlainRedactor,
    screen: Screen | None = None,
    parsed: Mapping[str, Any] = NOTHING_PARSED,
) -> str:
    """Raises BodyError for an event that cannot be inspected with certainty.

    `parsed`: payload text → `orjson.loads(text)` for payloads the caller has parsed already; the screen
    reads those instead of parsing them again (the objects are only read, never changed)."""
    if screen is not None and screen.enabled and _unchanged(text, workspace_id, screen, plain, parsed):
        return text
    parts = _LINE_BREAK.split(text)
    events: list[_Event] = []
    for i in range(0, len(parts), 2):
        line = parts[i]
        if line.startswith("data:"):
            prefix = "data: " if line.startswith("data: ") else "data:"
            payload = line[len(prefix) :]
            try:
                events.append(_Event(i, prefix, parse_json(payload)))
            except NotJson:
                parts[i] = prefix + plain(payload, workspace_id, tally)
        elif line:
            parts[i] = text_redactor.redact(line, workspace_id, tally)
    skip = _redact_channels(_channels(events), workspace_id, tally, text_redactor)
    for event in events:
        event.value, changed = json_redactor.redact(event.value, workspace_id, tally, skip)
        if changed or event.changed:
            parts[event.line] = event.prefix + dump_json(event.value)
    return "".join(parts)


def _unchanged(
    text: str, workspace_id: str, screen: Screen, plain: PlainRedactor, parsed: Mapping[str, Any]
) -> bool:
    """The screen's verdict on a whole stream: no line, event or channel would change. Touches no tally:
    when the answer is no, the ordinary path runs from the start."""
    # The lines `_LINE_BREAK.split` yields, at C speed when there is no CR.
    lines = _LINE_BREAK.split(text)[::2] if "\r" in text else text.split("\n")
    found = Found()
    values: list[Any] = []  # every event's payload, in order: the channels are joined from them
    texts: list[str] = []
    # Payloads the caller parsed are screened together, in one `read_parsed` after the loop.
    parsed_texts: list[str] = []
    parsed_values: list[Any] = []
    for line in lines:
        if line.startswith("data:"):
            payload = line[6:] if line.startswith("data: ") else line[5:]
            value = parsed.get(payload, UNREAD)
            if value is not UNREAD:
                parsed_texts.append(payload)
                parsed_values.append(value)
                values.append(value)
                continue
            value = screen.read(payload, found)
            if value is UNREAD:
                try:
                    value = parse_json(payload)
                except NotJson:
                    if plain(payload, workspace_id, Tally()) != payload:
                        return False
                    continue
                except BodyError:
                    return False  # the ordinary path reports it, in order
                screen.add(value, found)
            values.append(value)
        elif line:
            texts.append(line)
    if parsed_texts and not screen.read_parsed(parsed_texts, parsed_values, found):
        return False  # the ordinary path parses and redacts the stream from the start
    try:
        texts += _channel_texts(values, _screened_ident)
    except _Unsure:
        return False
    return screen.clean(found, texts)


def _channels(events: list[_Event], ident: Ident = _ident) -> dict[ChannelKey, list[_Fragment]]:
    channels: dict[ChannelKey, list[_Fragment]] = {}
    for event in events:
        for key, container, field, segments in _locations(event.value, ident):
            channels.setdefault(key, []).append(_Fragment(event, container, field, segments))
    return channels


def _channel_texts(values: list[Any], ident: Ident) -> list[str]:
    """Each channel's fragments joined, as `_channels` would group them: what the screen reads, without
    the per-fragment objects the redaction needs (a stream has a fragment per event)."""
    channels: dict[ChannelKey, list[str]] = {}
    for value in values:
        for key, container, field, _ in _locations(value, ident):
            channels.setdefault(key, []).append(container[field])
    return ["".join(parts) for parts in channels.values()]


def _redact_channels(
    channels: dict[ChannelKey, list[_Fragment]], workspace_id: str, tally: Tally, text_redactor: TextRedactor
) -> frozenset[tuple[int, str | int]]:
    skip: set[tuple[int, str | int]] = set()
    for fragments in channels.values():
        old = [f.container[f.field] for f in fragments]
        new = text_redactor.redact_fragments(old, workspace_id, tally)
        for fragment, before, after in zip(fragments, old, new, strict=True):
            skip.add((id(fragment.container), fragment.field))
            if after != before:
                fragment.container[fragment.field] = after
                fragment.event.changed = True
                tally.add_path(render_path(fragment.segments))
    return frozenset(skip)


def _locations(obj: Any, ident: Ident) -> Iterator[_Location]:
    """Where an event's payload holds a fragment of a channel: (channel key, container, field, path)."""
    if not isinstance(obj, dict):
        return
    choices = obj.get("choices")
    if isinstance(choices, list):
        yield from _chat_locations(choices, ident)
        return
    kind = obj.get("type")
    if not isinstance(kind, str):
        return  # `{"type": {}}` is no delta of any API (and unhashable: no set lookup)
    if kind in _RESPONSES_DELTAS and isinstance(obj.get("delta"), str):
        ids = (ident(obj.get("item_id")), ident(obj.get("output_index")), ident(obj.get("content_index")))
        yield ("responses", kind, *ids), obj, "delta", ("delta",)
    elif kind == "content_block_delta" and isinstance(obj.get("delta"), dict):
        delta = obj["delta"]
        for field in ("text", "partial_json", "thinking"):
            if isinstance(delta.get(field), str):
                yield ("anthropic", ident(obj.get("index")), field), delta, field, ("delta", field)


def _chat_locations(choices: list[Any], ident: Ident) -> Iterator[_Location]:
    for pos, choice in enumerate(choices):
        if not isinstance(choice, dict):
            continue
        index = ident(choice.get("index"), pos)
        if isinstance(choice.get("text"), str):  # legacy completions
            yield ("completion", index), choice, "text", ("choices", pos, "text")
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            continue
        for field in ("content", "refusal", "reasoning_content"):
            if isinstance(delta.get(field), str):
                yield ("chat", index, field), delta, field, ("choices", pos, "delta", field)
        calls = delta.get("tool_calls")
        for call_pos, call in enumerate(calls if isinstance(calls, list) else ()):
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                key = ("tool_call", index, ident(call.get("index"), call_pos))
                call_segments = ("choices", pos, "delta", "tool_calls", call_pos, "function", "arguments")
                yield key, function, "arguments", call_segments
