"""Model and token usage of one exchange, from its request and (decoded) response bodies (proxy.md §7).

The response body may be a truncated prefix; anything unparsable counts as zero tokens. Per-provider
modules read a usage object; this module finds the model and the usage objects and, for streams,
applies the spec's merge rule: each later non-zero count overwrites the earlier one, and the final
total is max(last non-zero payload total, input + output).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import orjson

from ongoingai.providers import anthropic, openai
from ongoingai.providers.fields import Json, get_map, get_str
from ongoingai.providers.sse import SsePayloads, parse_sse_payloads
from ongoingai.providers.usage import Usage

UsageReader = Callable[[Json], Usage]

# Routes other than the two built-in providers speak OpenAI's wire format (OpenAI-compatible upstreams),
# and OpenAI's field names are the ones proxy.md §7 lists for every provider.
READERS: dict[str, UsageReader] = {"openai": openai.read_usage, "anthropic": anthropic.read_usage}


def reader_for(provider: str) -> UsageReader:
    return READERS.get(provider.strip().lower(), openai.read_usage)


def extract_usage(
    provider: str,
    request_body: bytes,
    response_body: bytes,
    *,
    streaming: bool,
    stream_payloads: Iterable[Json] | None = None,
) -> Usage:
    """Model and token counts of one exchange; `model` is "" when nothing named one.

    `stream_payloads`: the stream's payloads when the caller has parsed them already
    (`sse.parse_stream`), so that the body is not split and parsed a second time.
    """
    if streaming:
        usage = stream_usage(
            provider, parse_sse_payloads(response_body) if stream_payloads is None else stream_payloads
        )
    else:
        usage = response_usage(provider, response_body)
    model = request_model(request_body)
    return replace(usage, model=model) if model else usage


def request_model(body: bytes) -> str:
    """The request JSON's `model`; "" for a non-JSON (multipart, truncated) or model-less body."""
    return get_str(_json_object(body), "model")


def payload_model(payload: Json) -> str:
    """`model`, else `message.model` (Anthropic `message_start`), else `response.model` (Responses API)."""
    return (
        get_str(payload, "model")
        or get_str(get_map(payload, "message"), "model")
        or get_str(get_map(payload, "response"), "model")
    )


def payload_usage(payload: Json) -> Json | None:
    """`usage`, else `message.usage`, else `response.usage` (Responses API `response.completed`)."""
    usage = get_map(payload, "usage")
    if usage:
        return usage
    if "message" not in payload and "response" not in payload:
        return None  # what the lookups below would find: most stream events carry neither
    return get_map(get_map(payload, "message"), "usage") or get_map(get_map(payload, "response"), "usage")


def response_usage(provider: str, body: bytes) -> Usage:
    """A non-streamed response: one parse of the whole body."""
    payload = _json_object(body)
    if payload is None:
        return Usage()
    usage = payload_usage(payload)
    counts = reader_for(provider)(usage) if usage is not None else Usage()
    return replace(counts, model=payload_model(payload))


@dataclass(slots=True)
class UsageAccumulator:
    """The streaming merge rule of proxy.md §7, extended to the breakdown fields."""

    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    payload_total: int = 0
    cached_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    reasoning_tokens: int = 0

    def add(self, model: str, counts: Usage) -> None:
        self.model = self.model or model
        self.add_counts(counts)

    def add_counts(self, counts: Usage) -> None:
        self.input_tokens = counts.input_tokens or self.input_tokens
        self.output_tokens = counts.output_tokens or self.output_tokens
        self.payload_total = counts.total_tokens or self.payload_total
        self.cached_input_tokens = counts.cached_input_tokens or self.cached_input_tokens
        self.cache_creation_input_tokens = (
            counts.cache_creation_input_tokens or self.cache_creation_input_tokens
        )
        self.reasoning_tokens = counts.reasoning_tokens or self.reasoning_tokens

    def result(self) -> Usage:
        return Usage(
            model=self.model,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            total_tokens=max(self.payload_total, self.input_tokens + self.output_tokens),
            cached_input_tokens=self.cached_input_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens,
            reasoning_tokens=self.reasoning_tokens,
        )


class StreamUsageParser:
    """Usage of a streamed (SSE) response, fed chunk by chunk as read; `finish` returns the result."""

    def __init__(self, provider: str) -> None:
        self._read = reader_for(provider)
        self._payloads = SsePayloads()
        self._acc = UsageAccumulator()

    def feed(self, chunk: bytes) -> None:
        self._add(self._payloads.feed(chunk))

    def finish(self) -> Usage:
        self._add(self._payloads.finish())
        return self._acc.result()

    def _add(self, payloads: Iterable[Json]) -> None:
        _accumulate(self._acc, self._read, payloads)


def stream_usage(provider: str, payloads: Iterable[Json]) -> Usage:
    """Usage of a whole stream's payloads, in order."""
    acc = UsageAccumulator()
    _accumulate(acc, reader_for(provider), payloads)
    return acc.result()


def _accumulate(acc: UsageAccumulator, read: UsageReader, payloads: Iterable[Json]) -> None:
    # `add(model, Usage())` for a payload without usage would change nothing but an empty model, and
    # the first model named is kept: most events of a stream need neither the reader nor the model.
    for payload in payloads:
        if not acc.model:
            acc.model = payload_model(payload)
        usage = payload_usage(payload)
        if usage is not None:
            acc.add_counts(read(usage))


def _json_object(body: bytes) -> Json | None:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
