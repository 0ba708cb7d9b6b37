"""Field-name rules (DEVIATIONS.md "Field-name redaction") and JSON-path rules (`pii.body.path_rules`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ongoingai.config.model import DEFAULT_KEY_DENYLIST
from ongoingai.policy import PathRuleError
from ongoingai.policy.rules import FieldRules, PathRules, Step, normalise_key, parse_key_rule, parse_path_rule
from tests.policy.conftest import make_redactor

DEFAULT_DENIED = [
    "email",
    "user_email",
    "userEmail",
    "E-Mail",
    "phone",
    "mobile_phone",
    "password",
    "db_password",
    "token",
    "access_token",
    "refresh-token",
    "Access Token",
    "secret",
    "client_secret",
    "clientSecret",
    "ssn",
    "SSN",
    "api_key",
    "apiKey",
    "API-KEY",
    "x_api_key",
    "authorization",
    "Authorization",
    "private_key",
    "privateKey",
    "ｐａｓｓｗｏｒｄ",  # full-width letters normalise to ASCII
    "pass\u200bword",  # a zero-width space is not a separator that hides the key
]
DEFAULT_ALLOWED = [
    "max_tokens",
    "input_tokens",
    "output_tokens",
    "max_completion_tokens",
    "tokens",
    "emails_sent",
    "phone_number_count",
    "ssn_last4",
    "secretary",
    "api_key_id",
    "model",
    "content",
    "role",
    "authorization_url",
    "passwordless",
]


@pytest.mark.parametrize("key", DEFAULT_DENIED)
def test_default_denylist_catches(key: str) -> None:
    assert FieldRules(DEFAULT_KEY_DENYLIST).matches(key)


@pytest.mark.parametrize("key", DEFAULT_ALLOWED)
def test_default_denylist_spares(key: str) -> None:
    assert not FieldRules(DEFAULT_KEY_DENYLIST).matches(key)


@pytest.mark.parametrize(
    ("entry", "key", "hit"),
    [
        ("session", "session", True),
        ("session", "session_id", False),
        ("session*", "session_id", True),
        ("session*", "my_session", False),
        ("*session", "my_session", True),
        ("*session*", "my_session_id", True),
        ("*session*", "sess", False),
        ("Session-ID", "sessionId", True),
        (" *Card Number ", "billing_card_number", True),
    ],
)
def test_entries_match_exactly_or_with_explicit_wildcards(entry: str, key: str, hit: bool) -> None:
    assert FieldRules([entry]).matches(key) is hit


def test_entries_with_nothing_to_match_are_ignored() -> None:
    assert parse_key_rule("") is None
    assert parse_key_rule("*") is None
    assert parse_key_rule("**") is None
    assert FieldRules(["", "*", " - "]).rules == ()
    assert not FieldRules(["*"]).matches("anything")


def test_normalise_key_removes_separators_and_case() -> None:
    assert normalise_key("X-Api_Key Value") == "xapikeyvalue"


@pytest.mark.parametrize(
    ("rule", "steps"),
    [
        ("$.a.b", (Step("a"), Step("b"))),
        ("$.a[*].b", (Step("a"), Step(None), Step("b"))),
        ("$..b", (Step("b", descend=True),)),
        ("$.a.*", (Step("a"), Step(None))),
        ("$..*", (Step(None, descend=True),)),
        ("$['a b'][0]", (Step("a b"), Step(0))),
        ('$["x.y"]', (Step("x.y"),)),
        (" $.messages[*].content ", (Step("messages"), Step(None), Step("content"))),
    ],
)
def test_path_rules_parse(rule: str, steps: tuple[Step, ...]) -> None:
    assert parse_path_rule(rule) == steps


@pytest.mark.parametrize("rule", ["", "$", "a.b", "$.", "$[a]", "$.a[", "$..", "$.a b"])
def test_bad_path_rules_are_rejected(rule: str) -> None:
    with pytest.raises(PathRuleError):
        parse_path_rule(rule)


def _redacted_paths(rules: list[str], doc: object) -> tuple[tuple[str, ...], dict[str, int], Any]:
    redactor = make_redactor(body={"path_rules": rules, "key_denylist": []})
    result = redactor.redact_body(json.dumps(doc).encode(), workspace_id="w")
    return result.paths, result.counts, json.loads(result.body)


def test_child_path_rule() -> None:
    paths, counts, out = _redacted_paths(["$.user.name"], {"user": {"name": "Ann", "age": 3}, "name": "keep"})
    assert paths == ("$.user.name",)
    assert counts == {"json_path": 1}
    assert out["name"] == "keep"
    assert out["user"]["age"] == 3
    assert out["user"]["name"].startswith("[FIELD_REDACTED:")


def test_wildcard_array_rule() -> None:
    doc = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}, "x"]}
    paths, counts, out = _redacted_paths(["$.messages[*].content"], doc)
    assert paths == ("$.messages[0].content", "$.messages[1].content")
    assert counts == {"json_path": 2}
    assert [m["role"] for m in out["messages"][:2]] == ["user", "assistant"]


def test_descendant_rule_matches_at_any_depth_and_replaces_whole_values() -> None:
    doc = {"a": {"notes": {"deep": 1}}, "b": [{"c": {"notes": "x"}}], "notes": None}
    paths, counts, out = _redacted_paths(["$..notes"], doc)
    assert paths == ("$.a.notes", "$.b[0].c.notes", "$.notes")
    assert counts == {"json_path": 3}
    assert all(isinstance(v, str) for v in (out["a"]["notes"], out["b"][0]["c"]["notes"], out["notes"]))


def test_index_rule_matches_only_that_element_of_an_array() -> None:
    doc = {"a": ["x", "y"], "b": {"0": "z"}}
    paths, _, out = _redacted_paths(["$.a[1]", "$.b[0]"], doc)
    assert paths == ("$.a[1]",)
    assert out["b"] == {"0": "z"}


def test_quoted_member_rule_and_bracket_rendering() -> None:
    paths, _, _ = _redacted_paths(["$['my key']"], {"my key": "v", "other": "w"})
    assert paths == ('$["my key"]',)


def test_path_rules_win_over_field_rules_for_the_count() -> None:
    redactor = make_redactor(body={"path_rules": ["$.password"]})
    result = redactor.redact_body(b'{"password":"x","secret":"y"}', workspace_id="w")
    assert result.counts == {"field_name": 1, "json_path": 1}


def test_path_rules_nfa_ignores_finished_rules() -> None:
    rules = PathRules(["$.a", "$.a.b"])
    states = rules.advance(rules.start, "a")
    assert rules.accepted(states)
    assert rules.advance(states, "b") == frozenset({(1, 2)})
