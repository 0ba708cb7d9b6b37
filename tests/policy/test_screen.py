"""The body screen (policy/screen.py): redaction with the screen is exactly redaction without it.

The properties compare every field of the result (body, counts, paths, truncated, error) of a redactor with
the screen and one forced down the walk, over generated JSON texts (duplicate keys, every escape style, BOMs,
NaN, big numbers, cut bodies, schema definitions) and SSE streams, under several configurations. Two more
check what the screen rests on: a match in any string is a match in the strings joined by NUL, and orjson
reads no JSON that the standard parser rejects, and the same strings and keys from what it reads.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ongoingai.config.model import PiiSettings
from ongoingai.policy import Redactor
from ongoingai.policy.codec import parse_json
from ongoingai.policy.screen import MAX_DEPTH, SEPARATOR, UNREAD, Found, Screen, gather
from tests.policy.conftest import AUTH_HEADER

SETTINGS = settings(
    derandomize=True,
    database=None,
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
CONFIGS: list[dict[str, Any]] = [
    {},
    {"detectors": {"token_like": False, "email": False}},
    {"detectors": {"phone": False, "payment_card": False, "ssn": False}},
    {"replacement": {"format": "<{type}:{hash}>", "hash_salt": "s"}},
    {"body": {"key_denylist": ["*content", "role", "*mail*"]}},
    {"body": {"path_rules": ["$..content"]}},  # the screen is off: the walk alone
]


def redactors(screen: bool) -> list[Redactor]:
    return [
        Redactor.from_settings(PiiSettings.model_validate(pii), AUTH_HEADER, screen=screen) for pii in CONFIGS
    ]


FAST, SLOW = redactors(True), redactors(False)
DEFAULT = FAST[0]

PIECES = [
    "alice@example.com",
    "Bob.Smith+tag@mail.example.co.uk",
    "user@",
    "@example.com",
    "(415) 555-2671",
    "+44 20 7946 0958",
    "123-45-6789",
    "4111 1111 1111 1111",
    "378282246310005",
    "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
    "sk_live_abcdefghij12",
    "AKIA" + "IOSFODNN7EXAMPLE",
    "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "xoxb-1234567890-abc",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fw",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n",
    "-----END PRIVATE KEY-----",
    "[EMAIL_REDACTED:0123456789abcdef]",
    "<EMAIL:0123456789abcdef>",
    "task-queue",
    "sk-learn-compatible",
    "gpt-4o-mini-2024-07-18",
    "1741569952",
    "v2.3.1",
    "max_tokens",
]
GLUE = st.text(alphabet='ab1 2-.@+()_:/\n\t"\\\x00éAKJx😀', max_size=4)
TEXT = st.lists(st.sampled_from(PIECES) | GLUE, max_size=6).map("".join)


def _escape_all(s: str) -> str:
    return '"' + "".join(f"\\u{unit:04x}" for unit in _utf16(s)) + '"'


def _utf16(s: str) -> list[int]:
    data = s.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _raw_controls(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'  # control characters left raw


STRING_STYLES = [
    lambda s: json.dumps(s, ensure_ascii=False),
    json.dumps,
    _escape_all,
    lambda s: json.dumps(s, ensure_ascii=False).replace("/", "\\/"),
    _raw_controls,
]


@st.composite
def json_strings(draw: st.DrawFn, text: st.SearchStrategy[str] = TEXT) -> str:
    return str(draw(st.sampled_from(STRING_STYLES))(draw(text)))


KEYS = st.sampled_from(
    [
        "content",
        "role",
        "model",
        "password",
        "api_key",
        "max_tokens",
        "user_email",
        "properties",
        "type",
        "description",
        "items",
        "k y",
        "ｐａｓｓｗｏｒｄ",
        "e\u200bmail",
        'a"b',
    ]
)
NUMBERS = ["0", "-1", "1.5", "2e-5", "1e400", "NaN", "-Infinity", "12345678901234567890123", "4155552671"]
SCALARS = json_strings() | st.sampled_from([*NUMBERS, "true", "false", "null"])
SPACE = st.sampled_from(["", " ", "\n  "])


@st.composite
def json_objects(draw: st.DrawFn, children: st.SearchStrategy[str]) -> str:
    pairs = draw(st.lists(st.tuples(json_strings(KEYS), children), max_size=4))
    space = draw(SPACE)
    return "{" + f",{space}".join(f"{k}:{space}{v}" for k, v in pairs) + "}"


@st.composite
def json_arrays(draw: st.DrawFn, children: st.SearchStrategy[str]) -> str:
    return "[" + f",{draw(SPACE)}".join(draw(st.lists(children, max_size=4))) + "]"


SCHEMA = json.dumps(
    {
        "tools": [
            {
                "type": "function",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "email": {"type": "string", "description": "the user's"},
                        "phone": "415-555-2671",
                        "password": {"not": "a schema"},
                    },
                },
            }
        ]
    }
)
JSON_VALUES = st.recursive(
    SCALARS, lambda c: json_objects(c) | json_arrays(c), max_leaves=12
) | st.sampled_from([SCHEMA, "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)])


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    head = draw(st.sampled_from(["", "", "\ufeff", " \n"]))
    text = head + draw(JSON_VALUES) + draw(st.sampled_from(["", "", "", " ", "x"]))
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(min_value=0, max_value=3)) < 3:
        return raw
    return raw[: draw(st.integers(min_value=0, max_value=len(raw)))]  # a capture cut anywhere


def outcome(redactor: Redactor, body: bytes, **kw: bool) -> tuple[Any, ...]:
    result = redactor.redact_body(body, workspace_id="w", **kw)
    return result.body, result.counts, result.paths, result.truncated, result.error


@SETTINGS
@given(bodies(), st.booleans(), st.booleans())
def test_json_bodies_redact_exactly_as_without_the_screen(
    body: bytes, require_json: bool, truncated: bool
) -> None:
    for fast, slow in zip(FAST, SLOW, strict=True):
        kw = {"require_json": require_json, "truncated": truncated}
        assert outcome(fast, body, **kw) == outcome(slow, body, **kw)


CHUNK_STYLES = st.sampled_from([0, 1, 2])


@st.composite
def sse_lines(draw: st.DrawFn) -> str:
    kind = draw(st.integers(min_value=0, max_value=5))
    if kind == 0:  # an OpenAI chat delta: channels join across events
        delta = draw(json_strings(TEXT))
        index = draw(st.sampled_from(["0", "1", '"a"', str(2**70), "1.5", "null"]))
        return f'data: {{"choices":[{{"index":{index},"delta":{{"content":{delta}}}}}]}}'
    if kind == 1:  # an Anthropic delta
        text = draw(json_strings(TEXT))
        return (
            f'data: {{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":{text}}}}}'
        )
    if kind == 2:
        return "data:" + draw(SPACE) + draw(JSON_VALUES)
    if kind == 3:  # not JSON: the plain text pass
        return "data: " + draw(st.sampled_from(["[DONE]", '{"password": "x"', "ping"])) + draw(TEXT)
    return draw(st.sampled_from(["event: ", ": ", "id: ", "retry: "])) + draw(TEXT)


@SETTINGS
@given(st.lists(sse_lines(), max_size=8), st.sampled_from(["\n\n", "\r\n\r\n", "\n"]), st.booleans())
def test_sse_streams_redact_exactly_as_without_the_screen(lines: list[str], sep: str, cut: bool) -> None:
    body = "".join(line + sep for line in lines).encode("utf-8", "surrogatepass")
    body = body[: len(body) // 2] if cut else body
    for fast, slow in zip(FAST, SLOW, strict=True):
        assert outcome(fast, body, stream=True, truncated=cut) == outcome(
            slow, body, stream=True, truncated=cut
        )


def orjson_objects(body: bytes) -> dict[str, Any]:
    """What the trace builder hands over (providers/sse.py `ParsedStream.objects`): payload text →
    orjson's object, for every `data:` payload orjson reads as an object."""
    parsed: dict[str, Any] = {}
    for line in body.decode("utf-8", "replace").splitlines():
        payload = line.removeprefix("data:").strip()
        if line.startswith("data:") and payload.startswith("{"):
            try:
                value = orjson.loads(payload)
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, dict):
                parsed[payload] = value
    return parsed


@SETTINGS
@given(st.lists(sse_lines(), max_size=8), st.sampled_from(["\n\n", "\r\n\r\n", "\n"]), st.booleans())
def test_sse_streams_redact_the_same_with_their_payloads_parsed_already(
    lines: list[str], sep: str, cut: bool
) -> None:
    body = "".join(line + sep for line in lines).encode("utf-8", "surrogatepass")
    body = body[: len(body) // 2] if cut else body
    parsed = orjson_objects(body)
    for redactor in FAST:
        with_parsed = redactor.redact_body(body, workspace_id="w", stream=True, truncated=cut, parsed=parsed)
        alone = redactor.redact_body(body, workspace_id="w", stream=True, truncated=cut)
        assert (with_parsed.body, with_parsed.counts, with_parsed.paths, with_parsed.error) == (
            alone.body,
            alone.counts,
            alone.paths,
            alone.error,
        )


def test_a_stream_parsed_already_is_read_from_the_callers_objects() -> None:
    # The screen reads the caller's object instead of parsing the text again. A stand-in with a secret
    # sends the stream down the ordinary path, which redacts the text itself: the stand-in never shows.
    body = b'data: {"a":"b"}\n\n'
    found = Found()
    stand_in = {"a": "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"}
    assert DEFAULT._body._screen is not None
    assert DEFAULT._body._screen.read('{"a":"b"}', found, stand_in) is stand_in
    assert found.strings == [stand_in["a"]]
    assert (
        DEFAULT.redact_body(body, workspace_id="w", stream=True, parsed={'{"a":"b"}': stand_in}).body == body
    )


@SETTINGS
@given(st.lists(TEXT, max_size=6))
def test_a_match_in_any_string_is_a_match_in_the_joined_strings(parts: list[str]) -> None:
    for redactor in FAST[:5]:
        text = redactor._text
        if any(text.find(part) for part in parts):
            assert text.finds_any(SEPARATOR.join(parts))


@SETTINGS
@given(TEXT)
def test_finds_any_is_find_not_empty(value: str) -> None:
    for redactor in FAST[:5]:
        assert redactor._text.finds_any(value) == bool(redactor.find(value))
        assert redactor.detectors.finds_any(value) == bool(redactor.detectors.find(value))


def screen() -> Screen:
    return DEFAULT._body._screen  # type: ignore[return-value]


TYPICAL = [
    '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello in one sentence."}]}',
    '{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,'
    '"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":'
    '"Hi!\\nHow can I help?","refusal":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":42,'
    '"completion_tokens":20,"total_tokens":62},"system_fingerprint":"fp_06737a9306"}',
    '{"tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object","properties":'
    '{"email":{"type":"string"},"phone_number":{"type":"string","description":"E.164"}}}}}]}',
    '"just a string"',
    "3.5",
    "\ufeff[]",
]


@pytest.mark.parametrize("text", TYPICAL, ids=range(len(TYPICAL)))
def test_typical_bodies_are_screened_unchanged(text: str) -> None:
    assert screen().unchanged(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',  # orjson keeps one silently: the count of quotes gives it away
        '{"a": {"b": "x", "b": "y"}}',
        '{"a\\"b": 1}',  # a quote in a key: counted as a dropped string, left to the standard parser
        '{"a": "\\u0022"}',
        "[NaN]",
        '["\\ud800"]',
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        "not json",
        "\ufeff\ufeff{}",
    ],
)
def test_only_the_standard_parser_can_read(text: str) -> None:
    found = Found()
    assert screen().read(text, found) is UNREAD
    assert (found.strings, found.keys) == ([], set())


@pytest.mark.parametrize(
    "text",
    [
        '{"password": "hunter2"}',
        '{"content": "mail alice@example.com"}',
        '{"properties": {"email": "not a schema"}}',
        '["ok", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"]',
    ],
)
def test_anything_to_redact_is_not_screened(text: str) -> None:
    assert not screen().unchanged(text)


def test_gather_leaves_out_the_keys_of_schema_definitions() -> None:
    found = Found()
    depth, keys = gather(json.loads(SCHEMA), found)
    assert "email" not in found.keys
    assert {"phone", "password", "properties", "type", "description"} <= found.keys
    assert (depth, keys) == (6, 11)
    assert found.strings.count("string") == 1


def test_the_screen_is_off_with_path_rules_or_a_nul_in_the_format() -> None:
    for pii in ({"body": {"path_rules": ["$.a"]}}, {"replacement": {"format": "\x00{type}{hash}"}}):
        redactor = Redactor.from_settings(PiiSettings.model_validate(pii), AUTH_HEADER)
        off = redactor._body._screen
        assert off is not None
        assert off.read("{}", Found()) is UNREAD
        assert not off.clean(Found())


def test_a_stream_with_anything_to_redact_takes_the_ordinary_path() -> None:
    for body in (
        b'data: {"a": 1}\n\ndata: not json alice@example.com\n\n',
        b'data: {"a": 1, "a": 2}\n\n',
        b'data: {"choices":[{"delta":{"content":"alice@exa"}}]}\n\n'
        b'data: {"choices":[{"delta":{"content":"mple.com"}}]}\n\n',
        b'data: [NaN, "alice@example.com"]\n\n',
    ):
        fast = outcome(DEFAULT, body, stream=True)
        assert fast == outcome(SLOW[0], body, stream=True)
        assert fast[0] != body or fast[4]  # something redacted, or the stream is an error


def test_an_event_whose_type_is_not_a_string_gets_the_ordinary_walk() -> None:
    # Found by the property above: `{"type": {}}` used to raise TypeError (an unhashable set lookup).
    body = b'data: {"type": {}, "delta": "alice@example.com"}\n\ndata: {"type": ["x"]}\n\n'
    for redactor in (DEFAULT, SLOW[0]):
        out, counts, paths, _, error = outcome(redactor, body, stream=True)
        assert (counts, paths, error) == ({"email": 1}, ("$.delta",), "")
        assert b"alice" not in out


def test_a_stream_whose_indexes_only_the_standard_parser_reads_as_integers_takes_the_ordinary_path() -> None:
    # orjson reads 2**70 as a float: its channels would join the three deltas, hiding the email that the
    # standard parser's channels (2**70 apart from 0) find.
    big = 2**70
    events = [(big, "alice@exa"), (0, "!"), (big, "mple.com")]
    body = "".join(
        f'data: {{"choices":[{{"index":{i},"delta":{{"content":"{c}"}}}}]}}\n\n' for i, c in events
    ).encode()
    assert outcome(DEFAULT, body, stream=True) == outcome(SLOW[0], body, stream=True)
    assert outcome(DEFAULT, body, stream=True)[1] == {"email": 1}


MUTATIONS = ["", "x", ",", "]", "}", '"', "\\", "1e400", "NaN", "\x00", "\ufeff", " ", "[", "{", ":", "-"]


@SETTINGS
@given(JSON_VALUES, st.integers(min_value=0), st.sampled_from(MUTATIONS))
def test_orjson_reads_no_json_the_standard_parser_rejects_and_the_same_strings(
    text: str, at: int, insert: str
) -> None:
    at %= len(text) + 1
    text = text[:at] + insert + text[at:]
    found = Found()
    if screen().read(text, found) is UNREAD:
        return
    exact = Found()
    gather(parse_json(text), exact)  # never raises: not NotJson, not a duplicate key, not too deep
    assert sorted(found.strings) == sorted(exact.strings)
    assert found.keys == exact.keys


@SETTINGS
@given(JSON_VALUES)
def test_the_suspects_are_exactly_the_strings_a_detector_changes_with_their_matches(text: str) -> None:
    # What `Screen.triage` rests on: a match in the joined strings lies within one string (or it crosses a
    # separator, and then there are no suspects to rely on), and the matches within a string are exactly
    # the ones `find` reports for that string alone.
    for redactor in FAST[:5]:
        screened = redactor._body._screen
        assert screened is not None
        found = Found()
        if screened.read(text, found) is UNREAD:
            assert screened.triage(text).suspects is None
            continue
        suspects = screened.triage(text).suspects
        if suspects is None:
            continue
        text_redactor = redactor._text
        assert suspects == {s: text_redactor.find(s) for s in found.strings if text_redactor.find(s)}


def test_a_key_block_that_spans_two_strings_leaves_every_string_to_the_walk() -> None:
    # The PEM pattern reads to the END line across the NUL the screen joins strings with.
    text = json.dumps(["-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN", "-----END PRIVATE KEY-----", "ok"])
    assert screen().triage(text) == (False, None)
    body = text.encode()
    assert outcome(DEFAULT, body) == outcome(SLOW[0], body)
    assert outcome(DEFAULT, body)[1] == {"token_like": 1}  # the BEGIN string, to the end of its base64


def test_a_field_rule_alone_is_walked_with_no_suspects() -> None:
    assert screen().triage('{"password": "hunter2", "content": "hello"}') == (False, {})
    assert outcome(DEFAULT, b'{"password": "hunter2", "content": "hello"}')[1] == {"field_name": 1}


def _orjson_texts(texts: list[str]) -> tuple[list[str], list[Any]]:
    kept, values = [], []
    for text in texts:
        try:
            values.append(orjson.loads(text))
        except orjson.JSONDecodeError:
            continue
        kept.append(text)
    return kept, values


@SETTINGS
@given(st.lists(JSON_VALUES, max_size=6))
def test_reading_parsed_texts_together_is_reading_each(texts: list[str]) -> None:
    """`read_parsed` (a stream's events in one walk and one quote count) accepts exactly when every
    text alone passes `read`, and then finds the same strings and keys."""
    kept, values = _orjson_texts(texts)
    one_by_one = Found()
    each = all(screen().read(t, one_by_one, v) is not UNREAD for t, v in zip(kept, values, strict=True))
    together = Found()
    assert screen().read_parsed(kept, values, together) is (each or not kept)
    if each:
        assert sorted(together.strings) == sorted(one_by_one.strings)
        assert together.keys == one_by_one.keys
    else:
        assert together.strings == [] and together.keys == set()


def test_a_duplicate_key_in_one_event_fails_the_whole_read() -> None:
    texts = ['{"a":"x"}', '{"b":"y","b":"z"}', '{"c":"w"}']
    values = [orjson.loads(t) for t in texts]
    found = Found()
    assert screen().read_parsed(texts, values, found) is False
    assert found.strings == []
    # An escaped quote in a value is no duplicate: accepted, counted in the value's own quotes.
    texts = ['{"a":"say \\"hi\\""}', '{"b":"y"}']
    assert screen().read_parsed(texts, [orjson.loads(t) for t in texts], found) is True
    assert sorted(found.strings) == ['say "hi"', "y"]


def test_a_too_deep_event_fails_the_whole_read() -> None:
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert screen().read_parsed([deep], [orjson.loads(deep)], Found()) is False
    assert screen().read_parsed([at_limit], [orjson.loads(at_limit)], Found()) is True
