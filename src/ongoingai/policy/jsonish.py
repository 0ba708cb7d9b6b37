"""Field rules for text that looks like JSON but does not parse: above all a body cut at
`body_max_size`, whose `"password": "…"` must not be stored just because the closing brace is missing.

A linear scan: string tokens are skipped whole, a string followed by `:` is a key, and the value of a
denylisted key (string, scalar, or a whole object/array up to its end or the end of the text) becomes
a quoted FIELD placeholder.
"""

from __future__ import annotations

import json
import re

from ongoingai.policy.placeholders import Placeholders
from ongoingai.policy.result import Tally
from ongoingai.policy.rules import FieldRules

_STRING = re.compile(r'"(?:[^"\\]|\\.)*+"?', re.DOTALL)
_COLON = re.compile(r"\s*:\s*")
_SCALAR = re.compile(r"[^,}\]]*")
_BRACKETS = re.compile(r'"|[{}\[\]]')


def looks_like_json(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[")


def redact_jsonish_fields(
    text: str, fields: FieldRules, placeholders: Placeholders, workspace_id: str, tally: Tally
) -> str:
    out: list[str] = []
    pos = 0  # end of what is already copied to `out`
    m = _STRING.search(text)
    while m is not None:
        resume = m.end()
        colon = _COLON.match(text, m.end())
        if colon and fields.matches(_decoded(m.group())):
            start = colon.end()
            end = _value_end(text, start)
            raw = text[start:end]
            if raw and not placeholders.is_placeholder(_decoded(raw)):
                token = placeholders.render("FIELD", _decoded(raw) if raw[0] == '"' else raw, workspace_id)
                out.append(text[pos:start])
                out.append(json.dumps(token, ensure_ascii=False))
                pos = end
                tally.add("field_name")
            resume = max(end, resume)
        m = _STRING.search(text, resume)
    out.append(text[pos:])
    return "".join(out)


def _decoded(token: str) -> str:
    """A JSON string token's value; an unterminated one as its raw text without the quote."""
    try:
        value = json.loads(token)
    except ValueError:
        return token[1:] if token.startswith('"') else token
    return value if isinstance(value, str) else token


def _value_end(text: str, start: int) -> int:
    if start >= len(text):
        return start
    first = text[start]
    if first == '"':
        return _string_end(text, start)
    if first in "{[":
        return _container_end(text, start)
    scalar = _SCALAR.match(text, start)
    assert scalar is not None  # the pattern also matches the empty string
    return start + len(scalar.group().rstrip())


def _string_end(text: str, quote: int) -> int:
    m = _STRING.match(text, quote)
    assert m is not None  # always matches at a quote
    return m.end()


def _container_end(text: str, start: int) -> int:
    depth = 0
    m = _BRACKETS.search(text, start)
    while m is not None:
        ch = m.group()
        if ch == '"':
            m = _BRACKETS.search(text, _string_end(text, m.start()))
            continue
        depth += 1 if ch in "{[" else -1
        if depth == 0:
            return m.end()
        m = _BRACKETS.search(text, m.end())
    return len(text)
