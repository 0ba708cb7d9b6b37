"""Properties (issue 6): redaction is idempotent, leaves no detector match, and never changes keys,
nesting or array lengths, only string values and the values of denylisted fields."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ongoingai.config.model import DEFAULT_KEY_DENYLIST
from ongoingai.policy.rules import FieldRules
from tests.policy.conftest import make_redactor

REDACTOR = make_redactor()
FIELDS = FieldRules(DEFAULT_KEY_DENYLIST)
SETTINGS = settings(
    derandomize=True,
    database=None,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

PIECES = [
    "alice@example.com",
    "Bob.Smith+tag@mail.example.co.uk",
    "+44 20 7946 0958",
    "(415) 555-2671",
    "415-555-2671",
    "123-45-6789",
    "4111 1111 1111 1111",
    "378282246310005",
    "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
    "AKIA" + "IOSFODNN7EXAMPLE",
    "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fw",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n",
    "-----END PRIVATE KEY-----",
    "[EMAIL_REDACTED:0123456789abcdef]",
    "gpt-4o-mini",
    "2024-01-15",
    "max_tokens",
]
GLUE = st.text(alphabet="ab1 2-.@+()_:/\n\u00e9", max_size=4)
TEXT = st.lists(st.sampled_from(PIECES) | GLUE, max_size=8).map("".join)
KEYS = st.sampled_from(
    ["content", "role", "password", "api_key", "max_tokens", "user_email", "items", "n", "k y"]
)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=12,
)


def redact_text(text: str) -> str:
    return REDACTOR.redact_text(text, workspace_id="w").text


@SETTINGS
@given(TEXT)
def test_text_redaction_leaves_no_match_and_is_idempotent(text: str) -> None:
    once = redact_text(text)
    assert REDACTOR.find(once) == []
    assert redact_text(once) == once


def _same_shape(before: Any, after: Any) -> None:
    if isinstance(before, dict):
        assert isinstance(after, dict)
        assert list(after) == list(before)
        for key, value in before.items():
            if FIELDS.matches(key):
                assert isinstance(after[key], str)
            else:
                _same_shape(value, after[key])
    elif isinstance(before, list):
        assert isinstance(after, list)
        assert len(after) == len(before)
        for b, a in zip(before, after, strict=True):
            _same_shape(b, a)
    elif isinstance(before, str):
        assert isinstance(after, str)
    else:
        assert after == before


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


@SETTINGS
@given(JSON_VALUES)
def test_json_redaction_keeps_shape_is_idempotent_and_leaves_no_match(doc: Any) -> None:
    body = json.dumps(doc).encode()
    once = REDACTOR.redact_body(body, workspace_id="w")
    assert once.error == ""
    after = json.loads(once.body)
    _same_shape(doc, after)
    assert all(REDACTOR.find(s) == [] for s in _strings(after))
    twice = REDACTOR.redact_body(once.body, workspace_id="w")
    assert twice.body == once.body
    assert twice.counts == {}


@SETTINGS
@given(TEXT, st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=12))
def test_stream_redaction_catches_matches_across_any_split(text: str, cuts: list[int]) -> None:
    pieces, pos = [], 0
    for cut in cuts * (len(text) // max(sum(cuts), 1) + 1):
        if pos >= len(text):
            break
        pieces.append(text[pos : pos + cut])
        pos += cut
    events = [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode()
    once = REDACTOR.redact_body(body, workspace_id="w", stream=True)
    assert once.error == ""
    frames = once.body.decode().split("\n\n")
    assert len(frames) == len(events) + 1
    joined = "".join(json.loads(f[6:])["choices"][0]["delta"]["content"] for f in frames if f)
    assert joined == redact_text(text)
    assert REDACTOR.redact_body(once.body, workspace_id="w", stream=True).body == once.body
