"""Anthropic Messages usage objects (`/v1/messages`, streamed or not).

Anthropic's `input_tokens` counts only the prompt tokens after the last cache breakpoint; cache reads
(`cache_read_input_tokens`) and cache writes (`cache_creation_input_tokens`) are reported beside it.
DEVIATIONS.md ("Cost table") makes `Usage.input_tokens` count every prompt-side token for both
providers, so the three are added here, and the breakdown keeps reads and writes apart for pricing.

In a stream, `message_start` carries `message.usage` and `message_delta` carries `usage` with the
cumulative `output_tokens`; newer API versions repeat the cumulative input and cache counts there too.
"""

from __future__ import annotations

from ongoingai.providers import openai
from ongoingai.providers.fields import Json, first_count, get_count, get_map
from ongoingai.providers.usage import Usage


def read_usage(usage: Json) -> Usage:
    """Token counts of one usage object (model left empty: the caller knows where the model is)."""
    if "prompt_tokens" in usage:
        # Anthropic's OpenAI-compatible endpoint (/v1/chat/completions) answers in OpenAI's shape.
        return openai.read_usage(usage)
    cache_read = get_count(usage, "cache_read_input_tokens") or 0
    cache_write = get_count(usage, "cache_creation_input_tokens")
    if cache_write is None:
        ttl = get_map(usage, "cache_creation")
        cache_write = (get_count(ttl, "ephemeral_5m_input_tokens") or 0) + (
            get_count(ttl, "ephemeral_1h_input_tokens") or 0
        )
    input_tokens = first_count(usage, "input_tokens") + cache_read + cache_write
    output_tokens = first_count(usage, "output_tokens")
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=get_count(usage, "total_tokens") or input_tokens + output_tokens,
        cached_input_tokens=cache_read,
        cache_creation_input_tokens=cache_write,
        # `thinking_tokens` are part of `output_tokens` and billed at the output rate.
        reasoning_tokens=get_count(get_map(usage, "output_tokens_details"), "thinking_tokens") or 0,
    )
