"""Stored SSE responses (DEVIATIONS.md "Redaction details"): framing kept, deltas redacted as one text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ongoingai.policy import Redactor
from ongoingai.policy.codec import DUPLICATE_KEY, INVALID_UTF8
from ongoingai.policy.placeholders import placeholder_hash

EMAIL = "alice@example.com"
PH = f"[EMAIL_REDACTED:{placeholder_hash('w', '', EMAIL)}]"
KEY = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
KEY_PH = f"[TOKEN_REDACTED:{placeholder_hash('w', '', KEY)}]"


def sse(*events: Any, sep: str = "\n", tail: str = "data: [DONE]\n\n") -> bytes:
    out = []
    for event in events:
        if isinstance(event, tuple):
            name, data = event
            out.append(f"event: {name}{sep}data: {json.dumps(data)}{sep}{sep}")
        else:
            out.append(f"data: {json.dumps(event)}{sep}{sep}")
    return ("".join(out) + tail).encode()


def chat(content: str, index: int = 0) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "choices": [{"index": index, "delta": {"content": content}}],
    }


def data_lines(body: bytes) -> list[Any]:
    out = []
    for line in body.decode().splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            out.append(json.loads(line[6:]))
    return out


def redact(redactor: Redactor, body: bytes) -> tuple[bytes, dict[str, int], tuple[str, ...]]:
    result = redactor.redact_body(body, workspace_id="w", stream=True)
    assert result.error == ""
    return result.body, result.counts, result.paths


def test_openai_chat_email_split_across_three_chunks(redactor: Redactor) -> None:
    body = sse(chat("my email is ali"), chat("ce@exam"), chat("ple.com, thanks"))
    out, counts, paths = redact(redactor, body)
    contents = [e["choices"][0]["delta"]["content"] for e in data_lines(out)]
    assert contents == [f"my email is {PH}", "", ", thanks"]
    assert counts == {"email": 1}
    assert paths == ("$.choices[0].delta.content",)
    assert out.endswith(b"data: [DONE]\n\n")
    assert out.count(b"\n\n") == body.count(b"\n\n")


def test_unchanged_stream_keeps_its_exact_bytes(redactor: Redactor) -> None:
    body = sse(chat("hello"), chat(" world"), sep="\r\n")
    assert redactor.redact_body(body, workspace_id="w", stream=True).body is body


def test_framing_is_kept_byte_for_byte_outside_changed_payloads(redactor: Redactor) -> None:
    body = (
        ': keep-alive\r\n\r\nid: 7\r\nretry: 100\r\ndata:{"choices":[{"delta":{"content":"'
        + EMAIL
        + '"}}]}\r\n\r\ndata\r\n\r\n'
    ).encode()
    out, counts, _ = redact(redactor, body)
    assert counts == {"email": 1}
    assert out.decode() == (
        ': keep-alive\r\n\r\nid: 7\r\nretry: 100\r\ndata:{"choices":[{"delta":{"content":"'
        + PH
        + '"}}]}\r\n\r\ndata\r\n\r\n'
    )


def test_a_secret_split_across_many_tiny_chunks(redactor: Redactor) -> None:
    pieces = [KEY[i : i + 3] for i in range(0, len(KEY), 3)]
    body = sse(*(chat(p) for p in ["key: ", *pieces, " end"]))
    out, counts, _ = redact(redactor, body)
    contents = [e["choices"][0]["delta"]["content"] for e in data_lines(out)]
    assert counts == {"token_like": 1}
    assert contents == ["key: ", KEY_PH, *[""] * (len(pieces) - 1), " end"]


def test_choices_are_separate_channels(redactor: Redactor) -> None:
    body = sse(chat("alice@exa", 0), chat("bob ", 1), chat("mple.com", 0), chat("here", 1))
    out, counts, _ = redact(redactor, body)
    contents = [e["choices"][0]["delta"]["content"] for e in data_lines(out)]
    assert contents == [PH, "bob ", "", "here"]
    assert counts == {"email": 1}


def test_openai_tool_call_arguments_are_one_channel_per_call(redactor: Redactor) -> None:
    def call(args: str, index: int = 0) -> dict[str, Any]:
        tool = {"index": index, "function": {"arguments": args}}
        return {"choices": [{"index": 0, "delta": {"tool_calls": [tool]}}]}

    body = sse(
        call('{"to": "alice@'),
        call('{"x":1}', 1),
        call('example.com"}'),
        {"choices": [{"delta": {"tool_calls": "x"}}]},
    )
    out, counts, paths = redact(redactor, body)
    args = [e["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] for e in data_lines(out)[:3]]
    assert args == [f'{{"to": "{PH}', '{"x":1}', '"}']
    assert counts == {"email": 1}
    assert paths == ("$.choices[0].delta.tool_calls[0].function.arguments",)


def test_legacy_completions_text_is_a_channel(redactor: Redactor) -> None:
    body = sse(
        {"choices": [{"index": 0, "text": "alice@"}]}, {"choices": [{"index": 0, "text": "example.com"}]}
    )
    out, counts, _ = redact(redactor, body)
    assert [e["choices"][0]["text"] for e in data_lines(out)] == [PH, ""]


def test_responses_api_output_text_deltas(redactor: Redactor) -> None:
    def delta(text: str) -> tuple[str, dict[str, Any]]:
        kind = "response.output_text.delta"
        return kind, {"type": kind, "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": text}

    done = (
        "response.completed",
        {"type": "response.completed", "response": {"output_text": f"mail {EMAIL}"}},
    )
    body = sse(delta("mail ali"), delta("ce@example.com"), done, tail="")
    out, counts, paths = redact(redactor, body)
    events = data_lines(out)
    assert [e.get("delta") for e in events[:2]] == [f"mail {PH}", ""]
    assert events[2]["response"]["output_text"] == f"mail {PH}"
    assert counts == {"email": 2}
    assert paths == ("$.delta", "$.response.output_text")
    assert out.decode().startswith("event: response.output_text.delta\ndata: ")


def test_anthropic_text_and_partial_json_deltas(redactor: Redactor) -> None:
    def block(index: int, **delta: str) -> tuple[str, dict[str, Any]]:
        return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}

    body = sse(
        ("message_start", {"type": "message_start", "message": {"id": "m", "content": []}}),
        block(0, type="text_delta", text="reach me at +44 20 "),
        block(1, type="input_json_delta", partial_json='{"email": "alice@exam'),
        block(0, type="text_delta", text="7946 0958 please"),
        block(1, type="input_json_delta", partial_json='ple.com"}'),
        ("content_block_delta", {"type": "content_block_delta", "index": 2, "delta": "not a dict"}),
        ("message_stop", {"type": "message_stop"}),
        tail="",
    )
    out, counts, paths = redact(redactor, body)
    deltas = [e["delta"] for e in data_lines(out)[1:5]]
    phone = f"[PHONE_REDACTED:{placeholder_hash('w', '', '+44 20 7946 0958')}]"
    assert deltas[0]["text"] == f"reach me at {phone}"
    assert deltas[2]["text"] == " please"
    assert deltas[1]["partial_json"] == f'{{"email": "{PH}'
    assert deltas[3]["partial_json"] == '"}'
    assert counts == {"phone": 1, "email": 1}
    assert paths == ("$.delta.text", "$.delta.partial_json")


def test_other_fields_of_events_get_the_ordinary_walk(redactor: Redactor) -> None:
    event = {
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}],
        "user": EMAIL,
        "token": "t",
    }
    out, counts, _ = redact(redactor, sse(event, ["x", EMAIL], "just a string", 5, ["not", {"choices": 1}]))
    events = data_lines(out)
    assert events[0]["user"] == PH
    assert events[0]["token"].startswith("[FIELD_REDACTED:")
    assert events[1] == ["x", PH]
    assert counts == {"email": 2, "field_name": 1}


def test_non_json_data_and_other_lines_get_the_text_pass(redactor: Redactor) -> None:
    body = f'event: {EMAIL}\ndata: plain {EMAIL}\ndata: {{"password": "x\n\n'.encode()
    out, counts, _ = redact(redactor, body)
    lines = out.decode().split("\n")
    assert lines[0] == f"event: {PH}"
    assert lines[1] == f"data: plain {PH}"
    assert lines[2].startswith('data: {"password": "[FIELD_REDACTED:')
    assert counts == {"email": 2, "field_name": 1}


def test_a_truncated_stream_redacts_what_was_captured(redactor: Redactor) -> None:
    body = (
        sse(chat("mail alice@example.com"))
        + b'data: {"choices":[{"delta":{"content":"bob@example.com and more'
    )
    result = redactor.redact_body(body, workspace_id="w", stream=True, truncated=True)
    assert result.truncated
    assert b"example.com" not in result.body
    assert result.counts == {"email": 2}


def test_stream_errors(redactor: Redactor) -> None:
    bad_utf8 = redactor.redact_body(b"data: \xff\n\n", workspace_id="w", stream=True)
    assert bad_utf8.error == INVALID_UTF8
    duplicate = redactor.redact_body(b'data: {"a":1,"a":2}\n\n', workspace_id="w", stream=True)
    assert duplicate.error == DUPLICATE_KEY


@pytest.mark.parametrize("cut", [1, 7, 13, 29, 40])
def test_redacting_a_stored_stream_again_changes_nothing(redactor: Redactor, cut: int) -> None:
    text = f"contact {EMAIL} or {KEY} or 123-45-6789 anytime"
    pieces = [text[i : i + cut] for i in range(0, len(text), cut)]
    first, counts, _ = redact(redactor, sse(*(chat(p) for p in pieces)))
    assert counts == {"email": 1, "token_like": 1, "ssn": 1}
    again = redactor.redact_body(first, workspace_id="w", stream=True)
    assert again.body is first
    assert again.counts == {}
    joined = "".join(e["choices"][0]["delta"]["content"] for e in data_lines(first))
    assert redactor.find(joined) == []


def test_malformed_choices_and_tool_calls_are_skipped(redactor: Redactor) -> None:
    event = {
        "choices": [
            "x",
            {
                "index": 0,
                "delta": {"tool_calls": ["x", {"function": "f"}, {"function": {"arguments": EMAIL}}]},
            },
        ]
    }
    out, counts, paths = redact(redactor, sse(event))
    calls = data_lines(out)[0]["choices"][1]["delta"]["tool_calls"]
    assert calls[2]["function"]["arguments"] == PH
    assert paths == ("$.choices[1].delta.tool_calls[2].function.arguments",)


def test_a_json_error_to_a_streaming_request_gets_the_json_walk(redactor: Redactor) -> None:
    body = b'{"error":{"message":"bad key","api_key":"sk-x"}}'
    result = redactor.redact_body(body, workspace_id="w", stream=True)
    assert result.counts == {"field_name": 1}
    assert result.paths == ("$.error.api_key",)
