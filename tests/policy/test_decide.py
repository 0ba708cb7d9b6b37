"""The request guardrail (privacy-and-policy.md §3) with `observe` (DEVIATIONS.md)."""

from __future__ import annotations

import json

import pytest

from ongoingai.policy import Action, Decision, Mode, Redactor, decide
from ongoingai.policy.codec import INVALID_UTF8, NOT_JSON
from ongoingai.policy.decide import (
    BLOCKED_MESSAGE,
    ENCODED_BODY,
    TOO_LARGE,
    UNCERTAIN_MESSAGE,
    UNPARSABLE_CONTENT_TYPE,
    UNSUPPORTED_CHARSET,
    UNSUPPORTED_CONTENT_TYPE,
    parse_content_type,
)
from tests.policy.conftest import make_redactor

CLEAN = json.dumps(
    {"model": "gpt-4o-mini", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
).encode()
DIRTY = json.dumps(
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "I am alice@example.com"}]}
).encode()
JSON = "application/json"


def guard(redactor: Redactor, body: bytes, mode: Mode, content_type: str = JSON, **kw: str) -> Decision:
    return decide(redactor, body, content_type=content_type, mode=mode, workspace_id="w", **kw)


@pytest.mark.parametrize("mode", [Mode.OFF, Mode.REDACT_STORAGE])
def test_modes_without_a_guardrail_allow_untouched(redactor: Redactor, mode: Mode) -> None:
    decision = guard(redactor, DIRTY, mode, content_type="image/png")
    assert (decision.action, decision.body, decision.inspected, decision.counts) == (
        Action.ALLOW,
        DIRTY,
        False,
        {},
    )


def test_request_body_stage_off_disables_the_guardrail() -> None:
    redactor = make_redactor(stages={"request_body": False})
    assert guard(redactor, DIRTY, Mode.BLOCK).action is Action.ALLOW


@pytest.mark.parametrize("mode", [Mode.BLOCK, Mode.REDACT_UPSTREAM, Mode.OBSERVE])
def test_empty_body_is_allowed(redactor: Redactor, mode: Mode) -> None:
    decision = guard(redactor, b"", mode, content_type="garbage")
    assert (decision.action, decision.inspected) == (Action.ALLOW, False)


@pytest.mark.parametrize("mode", [Mode.BLOCK, Mode.REDACT_UPSTREAM, Mode.OBSERVE])
def test_clean_body_is_allowed_unchanged(redactor: Redactor, mode: Mode) -> None:
    decision = guard(redactor, CLEAN, mode)
    assert (decision.action, decision.body, decision.inspected) == (Action.ALLOW, CLEAN, True)
    assert (decision.status_code, decision.message, decision.reason, decision.audit_action) == (
        None,
        "",
        "",
        None,
    )
    assert decision.audit_outcome == "allowed"


def test_block_denies_with_403_and_never_names_the_value(redactor: Redactor) -> None:
    decision = guard(redactor, DIRTY, Mode.BLOCK)
    assert (decision.action, decision.status_code, decision.message) == (Action.BLOCK, 403, BLOCKED_MESSAGE)
    assert decision.counts == {"email": 1}
    assert decision.paths == ("$.messages[0].content",)
    assert (decision.reason, decision.audit_action, decision.audit_outcome) == (
        "pii_detected",
        "pii.block",
        "denied",
    )
    assert "alice" not in repr((decision.counts, decision.paths, decision.error))


def test_redact_upstream_forwards_the_redacted_body(redactor: Redactor) -> None:
    decision = guard(redactor, DIRTY, Mode.REDACT_UPSTREAM)
    assert decision.action is Action.REDACT
    assert decision.status_code is None
    assert b"alice" not in decision.body
    assert json.loads(decision.body)["messages"][0]["content"].startswith("I am [EMAIL_REDACTED:")
    assert (decision.audit_action, decision.audit_outcome) == ("pii.redact", "redacted")


def test_observe_never_changes_traffic_but_says_what_would_have_happened(redactor: Redactor) -> None:
    decision = guard(redactor, DIRTY, Mode.OBSERVE)
    assert (decision.action, decision.body, decision.status_code) == (Action.ALLOW, DIRTY, None)
    assert decision.counts == {"email": 1}
    assert decision.paths == ("$.messages[0].content",)
    assert (decision.reason, decision.audit_action, decision.audit_outcome) == (
        "pii_detected",
        "pii.observe",
        "observed",
    )


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "error"),
    [
        (b"x" * 65, JSON, "", TOO_LARGE),
        (DIRTY, JSON, "gzip", ENCODED_BODY),
        (DIRTY, "application/octet-stream", "", UNSUPPORTED_CONTENT_TYPE),
        (DIRTY, "multipart/form-data; boundary=x", "", UNSUPPORTED_CONTENT_TYPE),
        (DIRTY, "json", "", UNPARSABLE_CONTENT_TYPE),
        (DIRTY, "application/json; charset", "", UNPARSABLE_CONTENT_TYPE),
        (DIRTY, "application/json; charset=utf-16", "", UNSUPPORTED_CHARSET),
        (b'{"a":"\xff"}', JSON, "", INVALID_UTF8),
        (b"hello alice@example.com", JSON, "", NOT_JSON),
    ],
    ids=[
        "too-large",
        "gzip",
        "octet-stream",
        "multipart",
        "no-subtype",
        "bad-param",
        "utf-16",
        "bad-utf8",
        "not-json",
    ],
)
def test_uncertainty_denies_with_503_and_observe_lets_it_through(
    body: bytes, content_type: str, encoding: str, error: str
) -> None:
    redactor = make_redactor(body_max_size=64 if error == TOO_LARGE else 0)
    for mode in (Mode.BLOCK, Mode.REDACT_UPSTREAM):
        decision = guard(redactor, body, mode, content_type=content_type, content_encoding=encoding)
        assert (decision.action, decision.status_code, decision.message) == (
            Action.DENY_UNCERTAIN,
            503,
            UNCERTAIN_MESSAGE,
        )
        assert (decision.error, decision.reason) == (error, "policy_evaluation_failed")
        assert (decision.audit_action, decision.audit_outcome) == ("pii.deny_uncertain", "denied")
    observed = guard(redactor, body, Mode.OBSERVE, content_type=content_type, content_encoding=encoding)
    assert (observed.action, observed.error, observed.audit_action) == (Action.ALLOW, error, "pii.observe")


@pytest.mark.parametrize(
    "content_type",
    [
        "",
        "  ",
        "application/json",
        "Application/JSON; charset=UTF-8",
        'application/json; charset="utf-8"',
        "application/vnd.api+json",
        "application/json;",
        "application/json; charset=utf-8; ; foo=bar",
        "text/plain",
        "text/plain; charset=us-ascii",
    ],
)
def test_accepted_content_types_are_inspected(redactor: Redactor, content_type: str) -> None:
    decision = guard(redactor, DIRTY, Mode.BLOCK, content_type=content_type, content_encoding=" Identity ")
    assert decision.action is Action.BLOCK


def test_text_bodies_get_the_text_pass_and_redacted_forwarding(redactor: Redactor) -> None:
    decision = guard(redactor, b"call +44 20 7946 0958", Mode.REDACT_UPSTREAM, content_type="text/plain")
    assert decision.action is Action.REDACT
    assert decision.body.startswith(b"call [PHONE_REDACTED:")
    unknown = guard(redactor, b"call +44 20 7946 0958", Mode.BLOCK, content_type="")
    assert unknown.action is Action.BLOCK


def test_json_under_a_json_media_type_must_parse_but_field_rules_always_apply(redactor: Redactor) -> None:
    decision = guard(redactor, b'{"password": "hunter2"}', Mode.BLOCK)
    assert decision.counts == {"field_name": 1}


def test_parse_content_type() -> None:
    assert parse_content_type('Text/Plain; Charset="UTF-8"') == (("text", "plain"), {"charset": '"UTF-8"'})
    assert parse_content_type("text") is None
    assert parse_content_type("text/plain; a=b c") is None
