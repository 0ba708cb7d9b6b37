"""Credential scrubbing for telemetry: span attributes, events, status text, metric labels and log fields.

observability.md §6 as changed by DEVIATIONS.md "Telemetry scrubbing": the secret formats are the
`token_like` detector's (`policy.credentials.find_secrets`: OpenAI/Anthropic `sk-…`, Google `AIza…`, AWS
`AKIA…`, GitHub, Slack, Stripe, JWT, PEM), plus the original's four patterns (underscore keys, JWT,
`Bearer …`, `password=…`), generated gateway tokens (`ogk_…`), the configured gateway-key header written
as `name: value`, and the configured static gateway tokens verbatim. Strings shorter than 8 characters are
never altered; model names, key ids (`gwk_test_1`), paths and error words pass unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ongoingai.config import Settings
from ongoingai.policy.credentials import find_secrets

REDACTED = "[CREDENTIAL_REDACTED]"
MIN_LENGTH = 8
DEFAULT_GATEWAY_HEADER = "X-OngoingAI-Gateway-Key"

# The original's table (observability.md §6) plus `ogk_` (generated gateway tokens, auth-and-tenancy.md §2).
_SPEC_PATTERNS = (
    r"\b(?:sk|pk|rk|xox[baprs]|gh[pousr]|pat|ogk)_[a-z0-9_-]{8,}"
    r"|eyj[a-z0-9_-]{8,}\.[a-z0-9_-]{8,}\.[a-z0-9_-]{8,}"
    r"|\bbearer\s+[a-z0-9_.\-/+=]{8,}"
    r"|\b(?:password|secret|token)\s*=\s*\S{4,}"
)

# Case-insensitive superset of where any format of `find_secrets` or of `_SPEC_PATTERNS` can start.
_TRIGGERS = (
    r"(?:sk|pk|rk|gh[pousr]|pat|ogk)_|sk-|xox|xapp-|aiza|akia|asia|github_pat_|eyj|-----begin"
    r"|bearer|password|secret|token"
)


_LABEL_MEMO_MAX = 1024


class Scrubber:
    """Replaces credential-shaped substrings with `[CREDENTIAL_REDACTED]`; pure and thread-safe."""

    def __init__(self, *, gateway_header: str = DEFAULT_GATEWAY_HEADER, literals: Iterable[str] = ()) -> None:
        header = re.escape(gateway_header.strip() or DEFAULT_GATEWAY_HEADER)
        self._pattern = re.compile(_SPEC_PATTERNS + rf"|\b{header}\s*[:=]\s*\S+", re.IGNORECASE | re.ASCII)
        # Longest first, so a token that contains another is removed whole.
        self._literals = tuple(sorted({s for s in literals if len(s) >= MIN_LENGTH}, key=len, reverse=True))
        # One cheap search of the lower-cased text rules most strings out: every format above starts with one
        # of these (a case-sensitive search of lowered text is several times faster than IGNORECASE).
        words = [_TRIGGERS, header.lower(), *(re.escape(s.lower()) for s in self._literals)]
        self._trigger = re.compile("|".join(words))
        self._labels: dict[str, str] = {}  # `label` memo: a dict's get and set are atomic under the GIL

    @classmethod
    def from_settings(cls, settings: Settings) -> Scrubber:
        """The configured gateway-key header name and every static gateway token are scrubbed too."""
        tokens = (key.token.get_secret_value().strip() for key in settings.auth.keys)
        return cls(gateway_header=settings.auth.header, literals=tokens)

    def scrub(self, text: str) -> str:
        if len(text) < MIN_LENGTH or self._trigger.search(text.lower()) is None:
            return text
        spans = find_secrets(text)
        for match in self._pattern.finditer(text):
            spans.append(match.span())
        for literal in self._literals:
            at = text.find(literal)
            while at != -1:
                spans.append((at, at + len(literal)))
                at = text.find(literal, at + len(literal))
        if not spans:
            return text
        return _replace(text, spans).strip()

    def value(self, value: Any) -> Any:
        """A span/log attribute value: strings and sequences of strings are scrubbed, others kept."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list | tuple) and any(isinstance(v, str) for v in value):
            return type(value)(self.scrub(v) if isinstance(v, str) else v for v in value)
        return value

    def label(self, value: str) -> str:
        """A metric label value: trimmed, scrubbed, `unknown` when empty (observability.md §3).

        Memoised (up to `_LABEL_MEMO_MAX` values): tenant ids, key ids, roles and providers repeat from
        request to request, and every metric and span of a request asks for them."""
        cached = self._labels.get(value)
        if cached is None:
            cached = self.scrub(value.strip()) or "unknown"
            if len(self._labels) < _LABEL_MEMO_MAX:
                self._labels[value] = cached
        return cached


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    spans.sort()
    out: list[str] = []
    pos = 0
    for start, end in spans:
        if end <= pos:
            continue
        start = max(start, pos)
        out.append(text[pos:start])
        out.append(REDACTED)
        pos = end
    out.append(text[pos:])
    return "".join(out)


DEFAULT_SCRUBBER = Scrubber()


def scrub(text: str) -> str:
    """Scrub with the default gateway-key header and no configured tokens."""
    return DEFAULT_SCRUBBER.scrub(text)
