"""Micro-benchmark of the privacy engine: CPU µs per call of `redact_for_storage` (and of the guardrail's
`decide`) on the bodies an LLM gateway sees, with the body screen (policy/screen.py) on and forced off.

    .venv/bin/python bench/policy_bench.py                      # screen on vs forced off (the walk alone)
    .venv/bin/python bench/policy_bench.py --before-src DIR     # and another source tree as "before"

`--before-src` points at another copy of `src/` (for instance `git archive <commit> src | tar -x -C /tmp/b`
and `--before-src /tmp/b/src`); it is measured in a child process, so the two trees never meet. Figures are
CPU time (`time.process_time_ns`): each case is warmed up, then timed in rounds of a calibrated loop, the
variants taking turns round by round; the table keeps each variant's best round, the one least disturbed by
whatever else the machine runs. A benchmark, never a test: nothing here asserts on timing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

WORKSPACE = "default"
AUTH_HEADER = "X-OngoingAI-Gateway-Key"
MODEL = "gpt-4o-mini"
SNAPSHOT = "gpt-4o-mini-2024-07-18"
COMPLETION_ID = "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"
ANSWER = (
    "Latency budgets matter most at the tail: measure p99, not only the median, and compare within one run."
)
USAGE = {
    "prompt_tokens": 42,
    "completion_tokens": 20,
    "total_tokens": 62,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
# A technical chat turn: dates, versions, durations, hyphenated words, code, a non-ASCII dash.
PROSE = (
    "Our deploy on 2025-03-14 moved the p95 from 212 ms to 340 ms after the v2.3.1 rollout; the "
    "task-queue workers (8 per node) now retry twice. Can you explain what changed, step by step?\n"
    "```python\ndef retry(n: int = 3) -> None:\n    for attempt in range(n):\n        print(attempt)\n```\n"
    "Keep the answer short — three bullet points at most. "
)
PII = (
    "Contact alice@example.com or bob.smith@mail.example.co.uk, call (415) 555-2671 or +44 20 7946 0958; "
    "SSN 123-45-6789, card 4111 1111 1111 1111, key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z. "
)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}


def _dumps(value: Any, *, ascii_only: bool = False) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only).encode()


def tiny_request() -> bytes:
    return _dumps({"model": MODEL, "messages": [{"role": "user", "content": "Say hello in one sentence."}]})


def completion() -> bytes:
    """A ~700-byte chat completion, with `usage`."""
    message: dict[str, Any] = {"role": "assistant", "content": ANSWER, "refusal": None, "annotations": []}
    return _dumps(
        {
            "id": COMPLETION_ID,
            "object": "chat.completion",
            "created": 1741569952,
            "model": SNAPSHOT,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
            "usage": USAGE,
            "service_tier": "default",
            "system_fingerprint": "fp_06737a9306",
        }
    )


def chat_request(size: int, *, ascii_only: bool = False) -> bytes:
    """A conversation of about `size` bytes: system prompt, alternating turns, a tool definition."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are a concise SRE assistant."}]
    while len(_dumps(messages)) < size - 600:
        turn = len(messages) - 1
        messages.append({"role": "user" if turn % 2 == 0 else "assistant", "content": f"({turn}) {PROSE}"})
    body = {
        "model": MODEL,
        "messages": messages,
        "temperature": 0.2,
        "max_tokens": 256,
        "tools": [WEATHER_TOOL],
        "user": "team-sre-7",
    }
    return _dumps(body, ascii_only=ascii_only)


def pii_chat_request(size: int) -> bytes:
    """`chat_request(size)` with PII (an email, two phones, SSN, card, API key) in one turn out of 20."""
    body = json.loads(chat_request(size))
    for i, message in enumerate(body["messages"]):
        if i % 20 == 5:
            message["content"] += " " + PII
    return _dumps(body)


def number_dense_request(size: int) -> bytes:
    """The detectors' worst case: turns that paste CSV exports, every row distinct ids, counts and epoch
    timestamps, so each 7+ digit number is a window to check and few repeat (the clean-window memo barely
    helps)."""
    messages: list[dict[str, Any]] = []
    row = 0
    while len(_dumps(messages)) < size - 200:
        lines = []
        for _ in range(40):
            row += 1
            lines.append(
                f"{row:07d},{row * 7919 % 10**9},{1700000000 + row * 37},{row % 1000}.{row % 97:02d}"
            )
        messages.append({"role": "user", "content": "id,value,ts,ms\n" + "\n".join(lines)})
    return _dumps({"model": MODEL, "messages": messages})


def pii_request() -> bytes:
    messages = [{"role": "user", "content": f"{i}: {PII}"} for i in range(8)]
    return _dumps({"model": MODEL, "messages": messages, "user": "alice@example.com"})


def _words() -> list[str]:
    words = ANSWER.split(" ")
    pieces = [words[0], *(" " + w for w in words[1:])]
    return [*pieces[:19], "".join(pieces[19:])]  # 20 deltas


def _chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": COMPLETION_ID,
        "object": "chat.completion.chunk",
        "created": 1741569952,
        "model": SNAPSHOT,
        "system_fingerprint": "fp_06737a9306",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
    }


def openai_stream() -> bytes:
    """24 events: role chunk, 20 content chunks, finish chunk, usage chunk, `[DONE]`."""
    chunks = [_chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    chunks += [_chunk({"content": piece}, None) for piece in _words()]
    chunks.append(_chunk({}, "stop"))
    usage = _chunk({}, None)
    usage["choices"], usage["usage"] = [], USAGE
    chunks.append(usage)
    return b"".join(b"data: " + _dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def anthropic_stream() -> bytes:
    """The Messages API: an `event:` line before each of 26 events, 20 of them text deltas."""
    message: dict[str, Any] = {"id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant"}
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {"type": "message_start", "message": {**message, "model": "claude-sonnet-4-5", "content": []}},
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
        ),
    ]
    for piece in _words():
        delta = {"type": "text_delta", "text": piece}
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}}),
        ("message_stop", {"type": "message_stop"}),
        ("ping", {"type": "ping"}),
    ]
    return b"".join(f"event: {name}\ndata: ".encode() + _dumps(data) + b"\n\n" for name, data in events)


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    request: bytes = b""
    response: bytes = b""
    stream: bool = False
    guard: bool = False  # `decide` in block mode on `request`, instead of `redact_for_storage`

    @property
    def size(self) -> int:
        return len(self.request) + len(self.response)


def cases() -> list[Case]:
    return [
        Case("tiny chat request", request=tiny_request()),
        Case("700 B completion", response=completion()),
        Case("tiny request + completion", request=tiny_request(), response=completion()),
        Case("4 KB chat request", request=chat_request(4096)),
        Case("256 KB chat request", request=chat_request(256 * 1024)),
        Case("256 KB, ASCII-escaped JSON", request=chat_request(256 * 1024, ascii_only=True)),
        Case("24-event SSE stream (OpenAI)", response=openai_stream(), stream=True),
        Case("26-event SSE stream (Anthropic)", response=anthropic_stream(), stream=True),
        Case("body full of PII", request=pii_request()),
        Case("decide: tiny request", request=tiny_request(), guard=True),
        Case("decide: 4 KB request", request=chat_request(4096), guard=True),
        Case("decide: 256 KB request", request=chat_request(256 * 1024), guard=True),
        Case("decide: 256 KB, PII in 1 turn of 20", request=pii_chat_request(256 * 1024), guard=True),
        Case("decide: 256 KB number-dense CSV", request=number_dense_request(256 * 1024), guard=True),
    ]


def _redactor(screen: bool) -> Any:
    from ongoingai.config.model import PiiSettings
    from ongoingai.policy import Redactor

    pii = PiiSettings()
    if screen:
        return Redactor.from_settings(pii, AUTH_HEADER, capture_bodies=True)
    try:
        return Redactor.from_settings(pii, AUTH_HEADER, capture_bodies=True, screen=False)
    except TypeError:
        return None  # a tree without the screen: nothing to force off


def _call(redactor: Any, case: Case) -> Callable[[], object]:
    from ongoingai.policy import Mode, decide, redact_for_storage

    if case.guard:
        return lambda: decide(
            redactor, case.request, content_type="application/json", mode=Mode.BLOCK, workspace_id=WORKSPACE
        )
    return lambda: redact_for_storage(
        redactor,
        mode=Mode.REDACT_STORAGE,
        workspace_id=WORKSPACE,
        request_body=case.request,
        response_body=case.response,
        response_stream=case.stream,
    )


def _round(fn: Callable[[], object], loops: int) -> float:
    """CPU µs per call over `loops` calls."""
    start = time.process_time_ns()
    for _ in range(loops):
        fn()
    return (time.process_time_ns() - start) / loops / 1000


def _loops(fn: Callable[[], object], round_ms: float) -> int:
    """Warm up for a few rounds' worth of CPU, then size a round to about `round_ms`."""
    loops = 1
    while (spent := _round(fn, loops) * loops) < round_ms * 1000:
        loops *= 2
    _round(fn, loops * 3)
    return max(1, int(loops * round_ms * 1000 / spent))


def measure(variants: dict[str, Any], rounds: int, round_ms: float) -> dict[str, dict[str, float]]:
    """variant → case → best CPU µs per call over `rounds` rounds, the variants taking turns."""
    results: dict[str, dict[str, float]] = {name: {} for name in variants}
    for case in cases():
        calls = {name: _call(redactor, case) for name, redactor in variants.items()}
        loops = {name: _loops(fn, round_ms) for name, fn in calls.items()}
        for name in calls:
            results[name][case.name] = float("inf")
        for _ in range(rounds):
            for name, fn in calls.items():
                results[name][case.name] = min(results[name][case.name], _round(fn, loops[name]))
    return results


def measure_tree(src: str, rounds: int, round_ms: float) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    argv = [
        sys.executable,
        os.path.abspath(__file__),
        "--emit-json",
        f"--rounds={rounds}",
        f"--round-ms={round_ms}",
    ]
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def table(before: dict[str, float] | None, slow: dict[str, float] | None, after: dict[str, float]) -> str:
    base, against = (before, "before") if before else (slow or after, "screen off")
    lines = [
        f"| case | bytes | before µs | screen off µs | after µs | speed-up vs {against} |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case in cases():
        name = case.name
        cells = [_cell((before or {}).get(name)), _cell((slow or {}).get(name)), _cell(after[name])]
        lines.append(f"| {name} | {case.size:,} | {' | '.join(cells)} | {base[name] / after[name]:,.1f}× |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before-src", help="a src/ tree to measure as 'before', in a child process")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--round-ms", type=float, default=20.0, help="CPU ms per round, case and variant")
    parser.add_argument("--emit-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.emit_json:
        print(json.dumps(measure({"after": _redactor(True)}, args.rounds, args.round_ms)["after"]))
        return
    before = measure_tree(args.before_src, args.rounds, args.round_ms) if args.before_src else None
    variants = {
        name: r for name, r in (("after", _redactor(True)), ("slow", _redactor(False))) if r is not None
    }
    results = measure(variants, args.rounds, args.round_ms)
    print(table(before, results.get("slow"), results["after"]))


if __name__ == "__main__":
    main()
