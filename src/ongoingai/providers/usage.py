"""`Usage`: what a provider's response says about the model and tokens of one exchange."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Usage:
    """Model and token counts parsed from one exchange (proxy.md §7 + DEVIATIONS.md cost breakdown).

    `input_tokens` counts every prompt-side token for both providers (Anthropic cache reads and writes
    included, as OpenAI's `prompt_tokens` already does); the breakdown fields say how many of them were
    cached reads / cache writes, and how many output tokens were reasoning.
    """

    model: str = ""  # "" when nothing named a model; the trace builder turns that into "unknown"
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    reasoning_tokens: int = 0
