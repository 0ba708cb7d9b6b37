"""Placeholders and their hash (privacy-and-policy.md §6; DEVIATIONS.md "Redaction details")."""

from __future__ import annotations

import hashlib

from ongoingai.policy import placeholder_hash
from ongoingai.policy.placeholders import DEFAULT_FORMAT, Placeholders
from tests.policy.conftest import make_redactor


def test_spec_example_hash() -> None:
    expected = hashlib.sha256(b"default::alice@example.com").hexdigest()[:16]
    assert placeholder_hash("default", "", "alice@example.com") == expected
    redactor = make_redactor()
    out = redactor.redact_text("alice@example.com", workspace_id="default")
    assert out.text == f"[EMAIL_REDACTED:{expected}]"
    assert out.counts == {"email": 1}


def test_unauthenticated_workspace_hashes_as_default() -> None:
    assert placeholder_hash("", "", "x") == placeholder_hash("default", "", "x")


def test_same_value_same_workspace_same_salt_is_stable_and_tenants_differ() -> None:
    p = Placeholders(salt="pepper")
    assert p.render("EMAIL", "a@b.co", "ws1") == p.render("EMAIL", "a@b.co", "ws1")
    assert p.render("EMAIL", "a@b.co", "ws1") != p.render("EMAIL", "a@b.co", "ws2")
    assert p.render("EMAIL", "a@b.co", "ws1") != Placeholders(salt="other").render("EMAIL", "a@b.co", "ws1")
    digest = hashlib.sha256(b"ws1:pepper:a@b.co").hexdigest()[:16]
    assert p.render("EMAIL", "a@b.co", "ws1") == f"[EMAIL_REDACTED:{digest}]"


def test_salt_comes_from_settings() -> None:
    redactor = make_redactor(replacement={"hash_salt": "s3"})
    digest = hashlib.sha256(b"w:s3:alice@example.com").hexdigest()[:16]
    assert redactor.redact_text("alice@example.com", workspace_id="w").text == f"[EMAIL_REDACTED:{digest}]"


def test_a_lone_surrogate_hashes_instead_of_crashing() -> None:
    assert len(placeholder_hash("w", "", "\ud800")) == 16


def test_custom_format_substitutes_every_token() -> None:
    p = Placeholders("<{type}:{hash}:{type}>")
    out = p.render("PHONE", "x", "w")
    digest = placeholder_hash("w", "", "x")
    assert out == f"<PHONE:{digest}:PHONE>"
    assert p.is_placeholder(out)


def test_empty_format_means_the_default() -> None:
    assert Placeholders("").format == DEFAULT_FORMAT


def test_default_placeholders_stay_inert_under_a_custom_format() -> None:
    p = Placeholders("<<{type}>>")
    old = Placeholders().render("CARD", "4111111111111111", "w")
    assert p.spans(f"x {old} <<CARD>> y") == [(2, 2 + len(old)), (3 + len(old), 11 + len(old))]


def test_a_format_without_literals_is_still_recognised() -> None:
    p = Placeholders("{hash}")
    token = p.render("EMAIL", "a@b.co", "w")
    assert p.spans(f"see {token}") == [(4, 20)]
    assert p.is_placeholder(token)


def test_only_known_types_and_16_hex_are_placeholders() -> None:
    p = Placeholders()
    assert p.is_placeholder("[EMAIL_REDACTED:0123456789abcdef]")
    assert not p.is_placeholder("[EMAIL_REDACTED:0123456789ABCDEF]")
    assert not p.is_placeholder("[ADDRESS_REDACTED:0123456789abcdef]")
    assert not p.is_placeholder("[EMAIL_REDACTED:0123456789abcde]")
    assert p.spans("no placeholder here") == []


def test_placeholder_types_are_upper_case_per_class() -> None:
    redactor = make_redactor()
    text = "a@b.co +44 20 7946 0958 123-45-6789 AKIAIOSFODNN7EXAMPLE 4111 1111 1111 1111"
    out = redactor.redact_text(text, workspace_id="w").text
    for type_ in ("EMAIL", "PHONE", "SSN", "TOKEN", "CARD"):
        assert f"[{type_}_REDACTED:" in out
