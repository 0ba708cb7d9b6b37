"""Redacting one body (privacy-and-policy.md §5): JSON walked, other UTF-8 text scanned, an SSE stream
redacted event by event with its framing kept; anything else is an error, never a raw pass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ongoingai.policy.codec import (
    NOT_JSON,
    BodyError,
    NotJson,
    decode_utf8,
    dump_json,
    encode_utf8,
    parse_json,
)
from ongoingai.policy.jsonish import looks_like_json, redact_jsonish_fields
from ongoingai.policy.placeholders import Placeholders
from ongoingai.policy.result import Redaction, Tally
from ongoingai.policy.rules import FieldRules
from ongoingai.policy.screen import Screen
from ongoingai.policy.sse import NOTHING_PARSED, looks_like_sse, redact_sse
from ongoingai.policy.text import TextRedactor
from ongoingai.policy.walk import JsonRedactor


class BodyRedactor:
    def __init__(
        self,
        text: TextRedactor,
        json: JsonRedactor,
        fields: FieldRules,
        placeholders: Placeholders,
        screen: Screen | None = None,
    ) -> None:
        self._text = text
        self._json = json
        self._fields = fields
        self._placeholders = placeholders
        self._screen = screen

    def redact(
        self,
        body: bytes,
        workspace_id: str,
        *,
        stream: bool = False,
        truncated: bool = False,
        require_json: bool = False,
        parsed: Mapping[str, Any] = NOTHING_PARSED,
    ) -> Redaction:
        """`parsed`: a stream's payload texts already parsed by orjson (`redact_sse`)."""
        if not body:
            return Redaction(b"", truncated=truncated)
        tally = Tally()
        try:
            text = decode_utf8(body, truncated)
            if stream and looks_like_sse(text):
                out = redact_sse(
                    text,
                    workspace_id,
                    tally,
                    json_redactor=self._json,
                    text_redactor=self._text,
                    plain=self._redact_plain,
                    screen=self._screen,
                    parsed=parsed,
                )
            else:
                out = self._redact_document(text, workspace_id, tally, require_json)
        except BodyError as exc:
            return Redaction(b"", truncated=truncated, error=str(exc))
        if out == text:
            # Unchanged: the caller's exact bytes (less a cut character at the end of a truncated capture).
            return Redaction(encode_utf8(text) if truncated else body, truncated=truncated)
        return Redaction(encode_utf8(out), tally.frozen_counts(), tally.frozen_paths(), truncated)

    def _redact_document(self, text: str, workspace_id: str, tally: Tally, require_json: bool) -> str:
        suspects = None
        if self._screen is not None:
            unchanged, suspects = self._screen.triage(text)
            if unchanged:
                return text
        try:
            value = parse_json(text)
        except NotJson:
            if require_json:
                raise BodyError(NOT_JSON) from None
            return self._redact_plain(text, workspace_id, tally)
        value, changed = self._json.redact(value, workspace_id, tally, suspects=suspects)
        return dump_json(value) if changed else text

    def _redact_plain(self, text: str, workspace_id: str, tally: Tally) -> str:
        if looks_like_json(text):
            text = redact_jsonish_fields(text, self._fields, self._placeholders, workspace_id, tally)
        return self._text.redact(text, workspace_id, tally)
