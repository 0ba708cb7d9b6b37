"""Field-name rules (`pii.body.key_denylist`) and JSON-path rules (`pii.body.path_rules`).

Field names match on the normalised key (DEVIATIONS.md "Field-name redaction"): `-`, `_` and spaces
removed, lower-cased; an entry matches exactly, or with a leading `*` as a suffix, a trailing `*` as a
prefix, both as a substring. So `access_token` and `clientSecret` are caught and `max_tokens` is not.
Path rules (`$.a.b`, `$.a[*].b`, `$..b`, `$['a b'][0]`) are compiled into steps and matched while the
JSON walk descends, so a rule costs nothing where it cannot apply.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_SEPARATORS = re.compile(r"[-_\s]+")
_KNOWN_KEYS = 4096


def normalise_key(key: str) -> str:
    if not key.isascii():
        # Full-width letters and invisible format characters must not slip a key past the denylist.
        key = unicodedata.normalize("NFKC", key)
        key = "".join(ch for ch in key if unicodedata.category(ch) != "Cf")
    return _SEPARATORS.sub("", key).lower()


@dataclass(frozen=True, slots=True)
class KeyRule:
    stem: str
    prefix: bool  # trailing `*`: keys starting with the stem
    suffix: bool  # leading `*`: keys ending with the stem

    def matches(self, normalised: str) -> bool:
        if self.prefix and self.suffix:
            return self.stem in normalised
        if self.prefix:
            return normalised.startswith(self.stem)
        if self.suffix:
            return normalised.endswith(self.stem)
        return normalised == self.stem


def parse_key_rule(entry: str) -> KeyRule | None:
    """None for an entry with nothing left to match after normalisation (`""`, `*`)."""
    raw = entry.strip()
    suffix = raw.startswith("*")
    prefix = raw.endswith("*") and len(raw) > 1
    stem = normalise_key(raw.strip("*"))
    return KeyRule(stem, prefix, suffix) if stem else None


class FieldRules:
    def __init__(self, entries: Iterable[str]) -> None:
        self.rules = tuple(rule for rule in map(parse_key_rule, entries) if rule is not None)
        self.matches = functools.lru_cache(maxsize=_KNOWN_KEYS)(self._matches)
        # Keys no rule takes: a body's keys are checked with one set difference (the same few dozen
        # keys recur in every request and response of an API).
        self._unmatched: set[str] = set()

    def _matches(self, key: str) -> bool:
        normalised = normalise_key(key)
        return any(rule.matches(normalised) for rule in self.rules)

    def any_matches(self, keys: set[str]) -> bool:
        """Whether a rule takes any of `keys`."""
        unknown = keys - self._unmatched
        if not unknown:
            return False
        if any(map(self.matches, unknown)):
            return True
        if len(self._unmatched) + len(unknown) > _KNOWN_KEYS:
            self._unmatched.clear()  # simpler than an LRU: the keys that recur are back at once
        if len(unknown) <= _KNOWN_KEYS:
            self._unmatched |= unknown
        return False


# A JSON path step: a member name, or None for any member / element; an int for one array element.
# `descend` marks `..`: the step may match at any depth below.
@dataclass(frozen=True, slots=True)
class Step:
    name: str | int | None
    descend: bool = False

    def accepts(self, key: str | int) -> bool:
        if self.name is None:
            return True
        return type(key) is type(self.name) and key == self.name


_STEP = re.compile(
    r"""(?P<dots>\.\.?)(?:(?P<name>[A-Za-z0-9_-]+)|(?P<star>\*))"""
    r"""|\[(?:(?P<bstar>\*)|(?P<index>\d+)|'(?P<squoted>[^']*)'|"(?P<dquoted>[^"]*)")\]"""
)


class PathRuleError(ValueError):
    pass


def parse_path_rule(rule: str) -> tuple[Step, ...]:
    """Compile `$.a[*].b`-style paths; the grammar is the one config validation accepts.

    Raises:
        PathRuleError: not a JSON path with a root and at least one step.
    """
    text = rule.strip()
    if not text.startswith("$") or len(text) == 1:
        raise PathRuleError(f"not a JSON path: {rule!r}")
    steps: list[Step] = []
    pos = 1
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None:
            raise PathRuleError(f"not a JSON path: {rule!r}")
        pos = m.end()
        steps.append(_step_of(m))
    return tuple(steps)


def _step_of(m: re.Match[str]) -> Step:
    descend = m.group("dots") == ".."
    if m.group("name") is not None:
        return Step(m.group("name"), descend)
    if m.group("index") is not None:
        return Step(int(m.group("index")))
    quoted = m.group("squoted") if m.group("squoted") is not None else m.group("dquoted")
    return Step(quoted, descend)  # `*` and `[*]` leave `quoted` None: any member or element


class PathRules:
    """A small NFA over all rules at once: a state is (rule, next step)."""

    def __init__(self, rules: Iterable[str]) -> None:
        self.rules = tuple(parse_path_rule(rule) for rule in rules)
        self.start: frozenset[tuple[int, int]] = frozenset((i, 0) for i in range(len(self.rules)))

    def advance(self, states: frozenset[tuple[int, int]], key: str | int) -> frozenset[tuple[int, int]]:
        nxt: set[tuple[int, int]] = set()
        for rule, i in states:
            if i == len(self.rules[rule]):
                continue
            step = self.rules[rule][i]
            if step.descend:
                nxt.add((rule, i))
            if step.accepts(key):
                nxt.add((rule, i + 1))
        return frozenset(nxt)

    def accepted(self, states: frozenset[tuple[int, int]]) -> bool:
        return any(i == len(self.rules[rule]) for rule, i in states)


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def render_path(segments: Iterable[str | int]) -> str:
    out = ["$"]
    for seg in segments:
        if isinstance(seg, int):
            out.append(f"[{seg}]")
        elif _IDENTIFIER.fullmatch(seg):
            out.append(f".{seg}")
        else:
            out.append(f"[{json.dumps(seg, ensure_ascii=False)}]")
    return "".join(out)
