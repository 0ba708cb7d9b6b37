"""The body screen: proving, cheaply, that redacting a body would change nothing, so the walk is skipped.

The JSON walk asks the detectors about each string in turn; on typical LLM traffic (tens to thousands of
strings, none of them sensitive) those calls cost far more than the parse. The screen asks once, about all
the strings joined by NUL, and checks the keys against the field rules. "Nothing here" skips the walk; a
match or a key a field rule could take sends the body down the ordinary walk, which stays the only code
that redacts, told which strings matched and where (`triage`) so that it asks the detectors nothing more;
a path rule, or a match across strings, leaves the walk to ask about every string as it always did.

Why one pass is exact. NUL is in none of the detectors' character classes, look-behind or look-ahead sets,
it is not a word character and not alphanumeric, and it is part of no placeholder (a format holding one
turns the screen off). Next to a NUL a detector therefore sees what it sees at the start or end of a
string; no match runs across it (but a PEM block's, which is a match all the same); and a rejected
candidate moves a scan on by one character only. So whatever matches in one string makes the joined text
match too, and no match in the joined text means none in any string.

The parse is never skipped, since it decides what the body is: invalid, duplicate-key and too-deep JSON
are errors (codec.py). orjson parses first, several times faster; it accepts no text the standard parser
rejects, except two, and both send the body to the ordinary path: duplicate keys (orjson keeps one silently;
they show as more `"` in the text than the parsed strings account for) and nesting deeper than `MAX_DEPTH`.
Its numbers may differ (an integer beyond 64 bits comes back as a float): the screen never reads numbers,
and a stream whose channel indexes come back as floats goes down the ordinary path (sse.py).
tests/policy/test_screen.py checks the lemma above, that orjson reads the same strings and keys as the
standard parser, and fast == slow on generated bodies and streams.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable
from typing import Any, NamedTuple

import orjson

from ongoingai.policy.codec import BOM
from ongoingai.policy.detectors import Match
from ongoingai.policy.placeholders import Placeholders
from ongoingai.policy.rules import FieldRules, PathRules
from ongoingai.policy.text import TextRedactor
from ongoingai.policy.walk import is_schema

SEPARATOR = "\x00"
# Far below the standard parser's recursion limit (`sys.getrecursionlimit()`, 1000 by default, less the
# caller's frames), where it reports TOO_DEEP and orjson (up to 1024 levels) would not.
MAX_DEPTH = 100
_QUOTE_ESCAPE = "\\u0022"  # the one way to write `"` inside a string that the quote count would not see
UNREAD: Any = object()  # `Screen.read`'s "ask the standard parser"


class Triage(NamedTuple):
    """`Screen.triage`'s verdict. `suspects`: the strings the detectors would change, each with its
    matches (what `TextRedactor.find` returns for it); every other string stays as it is. None: no such
    list, every string is asked."""

    unchanged: bool
    suspects: dict[str, list[Match]] | None


class Found:
    """What the screen has read so far: every string value, and the keys a field rule would be asked about."""

    __slots__ = ("keys", "strings")

    def __init__(self) -> None:
        self.strings: list[str] = []
        self.keys: set[str] = set()


class Screen:
    def __init__(
        self, text: TextRedactor, fields: FieldRules, paths: PathRules, placeholders: Placeholders
    ) -> None:
        self._text = text
        self._fields = fields
        # A path rule can take any value, whatever it holds: only the walk knows the paths.
        self.enabled = not paths.rules and SEPARATOR not in placeholders.format

    def unchanged(self, text: str) -> bool:
        """True only if `text` is JSON that `parse_json` accepts and the walk would leave as it is."""
        return self.triage(text).unchanged

    def triage(self, text: str) -> Triage:
        """`unchanged`, and when the body must be walked, the strings the detectors would change there.

        One scan of the joined strings finds every match; each lies within one string, since no match runs
        across a NUL (screen lemma, above) — but a PEM block's, which sends the walk to every string. The
        walk redacts the suspects with the matches found here and leaves every other string alone, so a
        body with matches is scanned once, as a clean one is, instead of once per string.
        """
        found = Found()
        if self.read(text, found) is UNREAD:
            return Triage(False, None)
        strings = list(dict.fromkeys(found.strings))
        matches = self._text.find(SEPARATOR.join(strings))
        if not matches:
            return Triage(not self._fields.any_matches(found.keys), {})
        ends = list(itertools.accumulate(len(s) + 1 for s in strings))  # each string's separator, + 1
        suspects: dict[str, list[Match]] = {}
        for m in matches:
            i = bisect.bisect_right(ends, m.start)
            if m.end >= ends[i]:
                return Triage(False, None)  # runs into the separator and beyond: a PEM block
            offset = ends[i] - len(strings[i]) - 1
            suspects.setdefault(strings[i], []).append(Match(m.start - offset, m.end - offset, m.kind))
        return Triage(False, suspects)

    def read(self, text: str, found: Found, parsed: Any = UNREAD) -> Any:
        """Parse `text` with orjson and add what it holds to `found`. UNREAD (and nothing added) when only
        the standard parser can tell: not JSON to orjson, duplicate keys, deeper than MAX_DEPTH.

        `parsed`: what `orjson.loads(text)` returned when the caller has already parsed `text` (the
        trace builder parses a stream once for usage and redaction); checked here like a fresh parse."""
        if not self.enabled:
            return UNREAD
        if parsed is not UNREAD:
            value = parsed
        else:
            try:
                value = orjson.loads(text.removeprefix(BOM))
            except orjson.JSONDecodeError:
                return UNREAD
        return value if _verified(text, value, 0, found) else UNREAD

    def read_parsed(self, texts: list[str], values: list[Any], found: Found) -> bool:
        """`read` for many texts at once that the caller has parsed with orjson (`values[i]` is
        `orjson.loads(texts[i])`): the events of a stream. One walk and one quote count for all of them.

        Summing the counts is exact: in each text the quotes written are at least those its parsed
        strings and keys account for (a dropped duplicate key only takes some away), so the sums are
        equal only when every text's are. False (nothing added): some text needs the standard parser."""
        # The list is one level more than each value; a newline cannot be part of an escaped quote.
        return self.enabled and _verified("\n".join(texts), values, 1, found)

    def add(self, value: Any, found: Found) -> None:
        """Add a value the standard parser produced (nothing left to verify)."""
        gather(value, found)

    def clean(self, found: Found, texts: Iterable[str] = ()) -> bool:
        """No key in `found` a field rule takes, and no detector match in its strings nor in `texts`
        (strings redacted as a whole: SSE lines, a stream's joined deltas)."""
        if not self.enabled or self._fields.any_matches(found.keys):
            return False
        # Each distinct string once: a stream repeats its id, model and fingerprint in every event.
        return not self._text.finds_any(SEPARATOR.join(dict.fromkeys([*found.strings, *texts])))


def _verified(text: str, value: Any, wrapping: int, found: Found) -> bool:
    """Whether `value` (orjson's parse of `text`, inside `wrapping` list levels of our own) holds what the
    standard parser would read from `text`; if so its strings and keys are added to `found`."""
    part = Found()
    depth, keys = gather(value, part)
    if depth - wrapping > MAX_DEPTH or _QUOTE_ESCAPE in text:
        return False
    # Each string in the text brings two quotes plus one per escaped `"` in its value. Fewer strings
    # parsed than written means a duplicate key dropped a pair (a `"` in a key also lands here).
    written = text.count('"')
    if written != 2 * (keys + len(part.strings)) + SEPARATOR.join(part.strings).count('"'):
        return False
    found.strings += part.strings
    found.keys |= part.keys
    return True


def gather(value: Any, found: Found) -> tuple[int, int]:
    """Add `value`'s strings and keys to `found`; (nesting depth, number of keys).

    The keys of JSON Schema property definitions are left out, as the walk leaves them (walk.py
    `_schema_property`). Level by level, like the walk iterative: nesting depth costs no stack.
    """
    strings, keys = found.strings, found.keys
    depth = count = 0
    property_maps: set[int] = set()  # ids of objects found under a `properties` key
    level = [value]
    while level:
        depth += 1
        below = []
        for node in level:
            kind = type(node)
            if kind is dict:
                count += len(node)
                if property_maps and id(node) in property_maps:
                    keys.update(key for key, child in node.items() if not is_schema(child))
                else:
                    keys.update(node)
                properties = node.get("properties")
                if type(properties) is dict:
                    property_maps.add(id(properties))
                children: Iterable[Any] = node.values()
            elif kind is list:
                children = node
            else:
                if kind is str:
                    strings.append(node)
                continue
            for child in children:
                kind = type(child)
                if kind is str:
                    strings.append(child)
                elif kind is dict or kind is list:
                    below.append(child)
        level = below
    return depth, count
