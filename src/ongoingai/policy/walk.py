"""The JSON walk (privacy-and-policy.md §5): object keys against the field and path rules, strings
through the detectors, everything else untouched.

Iterative and in place on the freshly parsed value: keys, key order, nesting and array lengths never
change; only strings and the values of denylisted fields do. Deep nesting cannot exhaust the stack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TypeAlias

from ongoingai.policy.detectors import Match
from ongoingai.policy.placeholders import Placeholders
from ongoingai.policy.result import Tally
from ongoingai.policy.rules import FieldRules, PathRules, render_path
from ongoingai.policy.text import TextRedactor

# A path is a linked list (parent, segment) so descending costs O(1); it is rendered only on a match.
Path: TypeAlias = tuple["Path", str | int] | None
States: TypeAlias = frozenset[tuple[int, int]]
# (container id, key) pairs the walk must leave alone: SSE text deltas redacted as one stream.
Skip: TypeAlias = frozenset[tuple[int, str | int]]
_NO_STATES: States = frozenset()
_SCHEMA_KEYWORDS = frozenset(
    {
        "type",
        "$ref",
        "anyOf",
        "oneOf",
        "allOf",
        "enum",
        "const",
        "items",
        "properties",
        "format",
        "description",
    }
)


def field_raw(value: Any) -> str:
    """§6 `raw_value` for a FIELD placeholder: strings as-is, null empty, the rest compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def segments(path: Path) -> list[str | int]:
    out: list[str | int] = []
    while path is not None:
        path, seg = path
        out.append(seg)
    out.reverse()
    return out


class JsonRedactor:
    def __init__(
        self, text: TextRedactor, fields: FieldRules, paths: PathRules, placeholders: Placeholders
    ) -> None:
        self._text = text
        self._fields = fields
        self._paths = paths
        self._placeholders = placeholders

    def render(self, path: Path, workspace_id: str) -> str:
        # Keys are user data too: a key holding an email must not reach an audit record in clear.
        return render_path(
            self._text.redact(seg, workspace_id) if isinstance(seg, str) else seg for seg in segments(path)
        )

    def redact(
        self,
        root: Any,
        workspace_id: str,
        tally: Tally,
        skip: Skip = frozenset(),
        suspects: dict[str, list[Match]] | None = None,
    ) -> tuple[Any, bool]:
        """(new root, changed). Containers are modified in place. `suspects`: when given, the only strings
        the detectors would change, with their matches (`Screen.triage`); the others are left unasked."""
        if isinstance(root, str):
            new = self._text.redact(root, workspace_id, tally)
            if new != root:
                tally.add_path("$")
                return new, True
            return root, False
        if not isinstance(root, dict | list):
            return root, False
        changed = False
        states = self._paths.start if self._paths.rules else _NO_STATES
        stack: list[tuple[Iterator[tuple[str | int, Any]], Any, Path, States]] = [
            (_items(root), root, None, states)
        ]
        while stack:
            items, node, path, states = stack[-1]
            entry = next(items, None)
            if entry is None:
                stack.pop()
                continue
            key, value = entry
            if skip and (id(node), key) in skip:
                continue
            child: Path = (path, key)
            child_states = self._paths.advance(states, key) if states else _NO_STATES
            replacement = self._rule_replacement(key, value, child_states, workspace_id, tally, path)
            if replacement is not None:
                if replacement != value:
                    node[key] = replacement
                    changed = True
                    tally.add_path(self.render(child, workspace_id))
            elif isinstance(value, str):
                if suspects is None:
                    new = self._text.redact(value, workspace_id, tally)
                elif value in suspects:
                    new = self._text.redact_found(value, suspects[value], workspace_id, tally)
                else:
                    continue
                if new != value:
                    node[key] = new
                    changed = True
                    tally.add_path(self.render(child, workspace_id))
            elif isinstance(value, dict | list):
                stack.append((_items(value), value, child, child_states))
        return root, changed

    def _rule_replacement(
        self, key: str | int, value: Any, states: States, workspace_id: str, tally: Tally, parent: Path
    ) -> Any:
        """The FIELD placeholder when a path or field rule covers this value, else None."""
        if states and self._paths.accepted(states):
            count = "json_path"
        elif isinstance(key, str) and self._fields.matches(key) and not _schema_property(parent, value):
            count = "field_name"
        else:
            return None
        if isinstance(value, str) and self._placeholders.is_placeholder(value):
            return value  # already redacted: idempotent, not counted again
        tally.add(count)
        return self._placeholders.render("FIELD", field_raw(value), workspace_id)


def _schema_property(parent: Path, value: Any) -> bool:
    """A JSON Schema property definition (`"properties": {"email": {"type": "string"}}` in tool and
    response-format schemas) names a field, it holds no data: replacing it would break every request
    that declares an `email` parameter. Its strings still get the detector pass."""
    return parent is not None and parent[1] == "properties" and is_schema(value)


def is_schema(value: Any) -> bool:
    """A JSON Schema, as found under `properties`: an object with at least one schema keyword."""
    return isinstance(value, dict) and not _SCHEMA_KEYWORDS.isdisjoint(value)


def _items(node: dict[str, Any] | list[Any]) -> Iterator[tuple[str | int, Any]]:
    # Values of existing keys are reassigned while iterating; the size never changes, so this is safe.
    if isinstance(node, dict):
        return iter(node.items())
    return enumerate(node)
