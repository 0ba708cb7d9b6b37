"""`Redactor`: the privacy engine built once from `PiiSettings`, then called purely per request.

No I/O, no logging: the caller decides what to forward, store, log and audit from the results.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ongoingai.config.model import DEFAULT_BODY_MAX_SIZE, PiiSettings, PiiStages
from ongoingai.policy.body import BodyRedactor
from ongoingai.policy.detectors import Detectors, Match
from ongoingai.policy.headers import HeaderPairs, HeaderRedactor
from ongoingai.policy.modes import EffectivePolicy, ModeResolver, PolicySubject
from ongoingai.policy.placeholders import Placeholders
from ongoingai.policy.result import Redaction, StoredHeaders, Tally, TextRedaction
from ongoingai.policy.rules import FieldRules, PathRules
from ongoingai.policy.screen import Screen
from ongoingai.policy.sse import NOTHING_PARSED
from ongoingai.policy.text import TextRedactor
from ongoingai.policy.walk import JsonRedactor


class Redactor:
    def __init__(
        self,
        *,
        detectors: Detectors,
        placeholders: Placeholders,
        fields: FieldRules,
        paths: PathRules,
        headers: HeaderRedactor,
        modes: ModeResolver,
        stages: PiiStages,
        body_max_size: int = DEFAULT_BODY_MAX_SIZE,
        screen: bool = True,
    ) -> None:
        self.detectors = detectors
        self.placeholders = placeholders
        self.headers = headers
        self.modes = modes
        self.stages = stages
        self.body_max_size = body_max_size if body_max_size > 0 else DEFAULT_BODY_MAX_SIZE
        self._text = TextRedactor(detectors, placeholders)
        self._body = BodyRedactor(
            self._text,
            JsonRedactor(self._text, fields, paths, placeholders),
            fields,
            placeholders,
            # Off only to compare the screen with the walk alone (tests, bench/policy_bench.py).
            Screen(self._text, fields, paths, placeholders) if screen else None,
        )

    @classmethod
    def from_settings(
        cls,
        pii: PiiSettings,
        auth_header: str,
        *,
        capture_bodies: bool = False,
        body_max_size: int = DEFAULT_BODY_MAX_SIZE,
        screen: bool = True,
    ) -> Redactor:
        """Build once at startup from validated settings.

        Raises:
            ModeError: an invalid mode or a scope without selector.
            PathRuleError: a `pii.body.path_rules` entry that is not a JSON path.
        """
        return cls(
            detectors=Detectors.from_settings(pii.detectors),
            placeholders=Placeholders(pii.replacement.format, pii.replacement.hash_salt.get_secret_value()),
            fields=FieldRules(pii.body.key_denylist),
            paths=PathRules(pii.body.path_rules),
            headers=HeaderRedactor.from_settings(pii, auth_header),
            modes=ModeResolver.from_settings(pii, capture_bodies=capture_bodies),
            stages=pii.stages,
            body_max_size=body_max_size,
            screen=screen,
        )

    def resolve(self, subject: PolicySubject) -> EffectivePolicy:
        return self.modes.resolve(subject)

    def find(self, text: str) -> list[Match]:
        """Detector matches outside existing placeholders (what redaction would replace)."""
        return self._text.find(text)

    def redact_text(self, text: str, *, workspace_id: str) -> TextRedaction:
        tally = Tally()
        return TextRedaction(self._text.redact(text, workspace_id, tally), tally.frozen_counts())

    def redact_body(
        self,
        body: bytes,
        *,
        workspace_id: str,
        stream: bool = False,
        truncated: bool = False,
        require_json: bool = False,
        parsed: Mapping[str, Any] = NOTHING_PARSED,
    ) -> Redaction:
        """Redact one body. `stream`: an SSE response; `require_json`: non-JSON is an error, not text;
        `parsed`: payload text → `orjson.loads(text)` of a stream parsed already (providers/sse.py)."""
        return self._body.redact(
            body,
            workspace_id,
            stream=stream,
            truncated=truncated,
            require_json=require_json,
            parsed=parsed,
        )

    def redact_headers(self, headers: HeaderPairs, *, response: bool = False) -> StoredHeaders:
        return self.headers.redact(headers, response=response)
