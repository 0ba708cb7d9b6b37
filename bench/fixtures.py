"""Wire bodies for the benchmark: one OpenAI chat completion request, its JSON answer and its SSE stream.

Shapes follow what api.openai.com returned for `gpt-4o-mini` in 2025 (ids and fingerprints made up), so the
gateway's usage parser does the same work it does in production.
"""

from __future__ import annotations

import json

MODEL = "gpt-4o-mini"
SNAPSHOT = "gpt-4o-mini-2024-07-18"
CREATED = 1741569952
COMPLETION_ID = "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"
FINGERPRINT = "fp_06737a9306"
# Fake credential: the gateway forwards it unchanged; nginx ignores it.
AUTHORIZATION = "Bearer sk-bench-0000000000000000000000000000000000000000"
# The `gateway-auth` target's one config-declared developer key (made up; the gateway strips the header).
GATEWAY_KEY_HEADER = "X-OngoingAI-Gateway-Key"
GATEWAY_TOKEN = "ogk_bench-not-a-secret-0000000000000000"
# nginx picks the streaming body by this header: the gateway keeps the upstream path unchanged, so the
# path cannot tell the two variants apart, and a custom header is forwarded by every target.
STREAM_HEADER = "X-Bench-Stream"

_ANSWER_WORDS = (
    "Latency",
    " budgets",
    " matter",
    " most",
    " at",
    " the",
    " tail",
    ":",
    " measure",
    " p99",
    ",",
    " not",
    " only",
    " the",
    " median",
    ",",
    " and",
    " compare",
    " within",
    " one run.",
)
_USAGE = {
    "prompt_tokens": 42,
    "completion_tokens": len(_ANSWER_WORDS),
    "total_tokens": 42 + len(_ANSWER_WORDS),
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def request_body(stream: bool) -> bytes:
    body: dict[str, object] = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a concise assistant for an SRE team."},
            {"role": "user", "content": "In one sentence, what should a latency benchmark report?"},
        ],
        "temperature": 0.2,
        "max_tokens": 64,
        "user": "bench-user-7",
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return _dumps(body).encode()


def completion_json() -> str:
    return _dumps(
        {
            "id": COMPLETION_ID,
            "object": "chat.completion",
            "created": CREATED,
            "model": SNAPSHOT,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(_ANSWER_WORDS),
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": _USAGE,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }
    )


def _chunk(delta: dict[str, object], finish_reason: str | None) -> dict[str, object]:
    return {
        "id": COMPLETION_ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": SNAPSHOT,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        "usage": None,
    }


def completion_sse() -> str:
    """20 content chunks, the finish chunk, the usage chunk (`include_usage`), then `[DONE]`."""
    chunks = [_chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    chunks += [_chunk({"content": word}, None) for word in _ANSWER_WORDS]
    chunks.append(_chunk({}, "stop"))
    usage = _chunk({}, None)
    usage["choices"] = []
    usage["usage"] = _USAGE
    chunks.append(usage)
    events = [f"data: {_dumps(chunk)}\n\n" for chunk in chunks]
    return "".join(events) + "data: [DONE]\n\n"
