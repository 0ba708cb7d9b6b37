"""OpenAI usage objects: chat completions, legacy completions, embeddings and the Responses API.

Two shapes reach us. Chat and legacy completions and embeddings report `prompt_tokens`,
`completion_tokens` (absent for embeddings) and `total_tokens`, with `prompt_tokens_details` and
`completion_tokens_details`. The Responses API (`/v1/responses`) reports `input_tokens`,
`output_tokens` and `total_tokens`, with `input_tokens_details` and `output_tokens_details`.

`prompt_tokens` / `input_tokens` already count every prompt-side token, cached reads and cache writes
included, which is the meaning DEVIATIONS.md gives `Usage.input_tokens`. `reasoning_tokens` are part of
`completion_tokens` / `output_tokens` and billed at the output rate.
"""

from __future__ import annotations

from ongoingai.providers.fields import Json, first_count, get_count, get_map
from ongoingai.providers.usage import Usage


def read_usage(usage: Json) -> Usage:
    """Token counts of one usage object (model left empty: the caller knows where the model is)."""
    input_tokens = first_count(usage, "prompt_tokens", "input_tokens")
    output_tokens = first_count(usage, "completion_tokens", "output_tokens")
    prompt_details = get_map(usage, "prompt_tokens_details") or get_map(usage, "input_tokens_details")
    output_details = get_map(usage, "completion_tokens_details") or get_map(usage, "output_tokens_details")
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=get_count(usage, "total_tokens") or input_tokens + output_tokens,
        cached_input_tokens=get_count(prompt_details, "cached_tokens") or 0,
        cache_creation_input_tokens=get_count(prompt_details, "cache_write_tokens") or 0,
        reasoning_tokens=get_count(output_details, "reasoning_tokens") or 0,
    )
