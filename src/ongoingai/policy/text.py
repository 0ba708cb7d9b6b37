"""Replacing detector matches in text, across fragments, until nothing is left to match.

A stream's text arrives in fragments (SSE deltas); detectors run on their concatenation and a match is
written back into every fragment it touches: the first carries the placeholder, the rest lose their
part of it (DEVIATIONS.md "Redaction details"). A plain string is the one-fragment case. Existing
placeholders are never scanned, which makes a second pass a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence

from ongoingai.policy.detectors import MIN_MATCH_LENGTH, PLACEHOLDER_TYPE, Detectors, Match
from ongoingai.policy.placeholders import Placeholders
from ongoingai.policy.result import Tally

# Replacing a match changes its neighbours' context, so text is rescanned until it is stable; with the
# default placeholder format the second pass finds nothing. The bound only guards odd custom formats.
_MAX_PASSES = 8


class TextRedactor:
    def __init__(self, detectors: Detectors, placeholders: Placeholders) -> None:
        self.detectors = detectors
        self.placeholders = placeholders

    def find(self, text: str) -> list[Match]:
        """Detector matches outside existing placeholders."""
        if len(text) < MIN_MATCH_LENGTH:
            return []
        protected = self.placeholders.spans(text)
        if not protected:
            return self.detectors.find(text)
        found: list[Match] = []
        pos = 0
        for start, end in [*protected, (len(text), len(text))]:
            if start > pos:
                found.extend(
                    Match(m.start + pos, m.end + pos, m.kind) for m in self.detectors.find(text[pos:start])
                )
            pos = end
        return found

    def finds_any(self, text: str) -> bool:
        """`find(text) != []`, stopping at the first match."""
        if len(text) < MIN_MATCH_LENGTH:
            return False
        protected = self.placeholders.spans(text)
        pos = 0
        for start, end in [*protected, (len(text), len(text))]:
            if start > pos and self.detectors.finds_any(text[pos:start]):
                return True
            pos = end
        return False

    def redact(self, text: str, workspace_id: str, tally: Tally | None = None) -> str:
        matches = self.find(text)
        if not matches:
            return text  # the common case, without building fragment lists
        return self._settle([text], text, matches, workspace_id, tally)[0]

    def redact_found(
        self, text: str, matches: list[Match], workspace_id: str, tally: Tally | None = None
    ) -> str:
        """`redact(text)` when `matches` is already `find(text)` (the body screen found them)."""
        return self._settle([text], text, matches, workspace_id, tally)[0]

    def redact_fragments(
        self, fragments: Sequence[str], workspace_id: str, tally: Tally | None = None
    ) -> list[str]:
        parts = list(fragments)
        text = "".join(parts)
        return self._settle(parts, text, self.find(text), workspace_id, tally)

    def _settle(
        self, parts: list[str], text: str, matches: list[Match], workspace_id: str, tally: Tally | None
    ) -> list[str]:
        for _ in range(_MAX_PASSES):  # pragma: no branch - settles in two passes with any sane format
            if not matches:
                break
            replacements = []
            for m in matches:
                raw = text[m.start : m.end]
                replacements.append(self.placeholders.render(PLACEHOLDER_TYPE[m.kind], raw, workspace_id))
                if tally is not None:
                    tally.add(m.kind.value)
            parts = _rewrite(parts, text, matches, replacements)
            text = "".join(parts)
            matches = self.find(text)
        return parts


def _rewrite(parts: list[str], text: str, matches: list[Match], replacements: list[str]) -> list[str]:
    out: list[str] = []
    i = 0  # first match that may still touch the current fragment
    offset = 0
    for part in parts:
        lo, hi = offset, offset + len(part)
        offset = hi
        pieces: list[str] = []
        pos = lo
        while pos < hi:
            while i < len(matches) and matches[i].end <= pos:
                i += 1
            if i == len(matches) or matches[i].start >= hi:
                pieces.append(text[pos:hi])
                break
            m = matches[i]
            if m.start > pos:
                pieces.append(text[pos : m.start])
            if m.start >= lo:
                pieces.append(replacements[i])  # the fragment where the match starts carries it
            pos = min(m.end, hi)
        out.append("".join(pieces))
    return out
