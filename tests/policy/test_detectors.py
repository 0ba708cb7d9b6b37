"""The detector corpus: real shapes per class, and the near misses that must survive (issue 6)."""

from __future__ import annotations

import pytest

from ongoingai.policy import Kind, Redactor, find_secrets
from ongoingai.policy.detectors import Detectors
from ongoingai.policy.numeric import is_card_number, luhn_ok

# Shapes assembled at run time so the repository itself carries no literal that scanners flag.
OPENAI_PROJECT = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 2
OPENAI_LEGACY = "sk-" + "a1B2c3D4e5F6g7H8i9J0" + "T3BlbkFJ" + "k1L2m3N4o5P6q7R8s9T0"
ANTHROPIC = "sk-ant-api03-" + "abcDEF123_ghi-JKL456" * 4 + "AA"
GOOGLE = "AIza" + "SyD-1234567890_abcdefghijklmnopqrst"  # 39 characters in all
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2\n-----END RSA PRIVATE KEY-----"

POSITIVES = [
    # email
    ("alice@example.com", "alice@example.com", Kind.EMAIL),
    ("Bob.Smith+tag@mail.example.co.uk", "Bob.Smith+tag@mail.example.co.uk", Kind.EMAIL),
    ("x_y-z%1@sub-domain.example.io", "x_y-z%1@sub-domain.example.io", Kind.EMAIL),
    ("mail: ALICE@EXAMPLE.COM.", "ALICE@EXAMPLE.COM", Kind.EMAIL),
    ("<a@b.co>", "a@b.co", Kind.EMAIL),
    ("..dots.first@example.org", "dots.first@example.org", Kind.EMAIL),
    # phone: national (region US) and international
    ("(415) 555-2671", "(415) 555-2671", Kind.PHONE),
    ("call 415-555-2671 today", "415-555-2671", Kind.PHONE),
    ("415.555.2671", "415.555.2671", Kind.PHONE),
    ("415 555 2671", "415 555 2671", Kind.PHONE),
    ("1-800-275-2273", "1-800-275-2273", Kind.PHONE),
    ("+1 (650) 253-0000", "+1 (650) 253-0000", Kind.PHONE),
    ("+14155552671", "+14155552671", Kind.PHONE),
    ("tel:+14155552671", "+14155552671", Kind.PHONE),
    ("+44 20 7946 0958", "+44 20 7946 0958", Kind.PHONE),
    ("+44 7911 123456", "+44 7911 123456", Kind.PHONE),
    ("+44 (0) 20 7946 0958", "+44 (0) 20 7946 0958", Kind.PHONE),
    ("+33 1 42 68 53 00", "+33 1 42 68 53 00", Kind.PHONE),
    ("+49 30 901820", "+49 30 901820", Kind.PHONE),
    ("+91 98765 43210", "+91 98765 43210", Kind.PHONE),
    ("+81 3-1234-5678", "+81 3-1234-5678", Kind.PHONE),
    ("+61 2 9374 4000", "+61 2 9374 4000", Kind.PHONE),
    ("+55 11 91234-5678", "+55 11 91234-5678", Kind.PHONE),
    ("+34 612 345 678", "+34 612 345 678", Kind.PHONE),
    ("dial 011 44 20 7946 0958 now", "011 44 20 7946 0958", Kind.PHONE),
    # ssn
    ("123-45-6789", "123-45-6789", Kind.SSN),
    ("SSN: 078-05-1120.", "078-05-1120", Kind.SSN),
    # payment cards: Visa, Mastercard (both ranges), Amex, Discover, JCB, Diners, UnionPay, Maestro
    ("4111 1111 1111 1111", "4111 1111 1111 1111", Kind.CARD),
    ("4111-1111-1111-1111", "4111-1111-1111-1111", Kind.CARD),
    ("card=4111111111111111;", "4111111111111111", Kind.CARD),
    ("5555 5555 5555 4444", "5555 5555 5555 4444", Kind.CARD),
    ("2223 0031 2200 3222", "2223 0031 2200 3222", Kind.CARD),
    ("3782 822463 10005", "3782 822463 10005", Kind.CARD),
    ("378282246310005", "378282246310005", Kind.CARD),
    ("6011 1111 1111 1117", "6011 1111 1111 1117", Kind.CARD),
    ("3530111333300000", "3530111333300000", Kind.CARD),
    ("30569309025904", "30569309025904", Kind.CARD),
    ("6200000000000005", "6200000000000005", Kind.CARD),
    ("5018 0000 0009", "", None),  # 12 digits: too short for any card pattern here
    ("4111 1111 1111 1111 123", "4111 1111 1111 1111", Kind.CARD),
    ("4222222222222", "4222222222222", Kind.CARD),
    # secrets in their real formats (DEVIATIONS.md "token_like detector")
    (OPENAI_PROJECT, OPENAI_PROJECT, Kind.TOKEN),
    (OPENAI_LEGACY, OPENAI_LEGACY, Kind.TOKEN),
    (
        "sk-svcacct-abcdefghijklmnopqrstuvwxyz0123456789",
        "sk-svcacct-abcdefghijklmnopqrstuvwxyz0123456789",
        Kind.TOKEN,
    ),
    ("sk-admin-0123456789abcdefghijABCDEFGHIJ", "sk-admin-0123456789abcdefghijABCDEFGHIJ", Kind.TOKEN),
    (ANTHROPIC, ANTHROPIC, Kind.TOKEN),
    (f"OPENAI_API_KEY={OPENAI_PROJECT}", OPENAI_PROJECT, Kind.TOKEN),
    (f"Authorization: Bearer {OPENAI_PROJECT}", OPENAI_PROJECT, Kind.TOKEN),
    (GOOGLE, GOOGLE, Kind.TOKEN),
    (AWS, AWS, Kind.TOKEN),
    ("ASIA" + "IOSFODNN7EXAMPLE", "ASIA" + "IOSFODNN7EXAMPLE", Kind.TOKEN),
    (GITHUB, GITHUB, Kind.TOKEN),
    ("gho_" + GITHUB[4:], "gho_" + GITHUB[4:], Kind.TOKEN),
    ("ghs_" + GITHUB[4:], "ghs_" + GITHUB[4:], Kind.TOKEN),
    (
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        Kind.TOKEN,
    ),
    (
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKl",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKl",
        Kind.TOKEN,
    ),
    ("xoxp-1234567890-abcdef", "xoxp-1234567890-abcdef", Kind.TOKEN),
    ("xapp-1-A0123456789-abcdef", "xapp-1-A0123456789-abcdef", Kind.TOKEN),
    ("sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", Kind.TOKEN),
    ("sk_test_abcdefghij1234", "sk_test_abcdefghij1234", Kind.TOKEN),
    ("rk_live_abcdefghij1234", "rk_live_abcdefghij1234", Kind.TOKEN),
    ("pk_live_abcdefghij1234", "pk_live_abcdefghij1234", Kind.TOKEN),
    (JWT, JWT, Kind.TOKEN),
    (PEM, PEM, Kind.TOKEN),
    ("-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----", None, Kind.TOKEN),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA", None, Kind.TOKEN),
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----", None, Kind.TOKEN),
]

NEGATIVES = [
    "gpt-4o-mini",
    "claude-3-5-sonnet-20241022",
    "text-embedding-3-small",
    "gpt-4o-2024-08-06",
    "gwk_test_1",
    "550e8400-e29b-41d4-a716-446655440000",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "max_tokens",
    "task-force",
    "a risk-based-sk-approach",
    "sk-short",
    "sk-learn-is-a-python-library-name",
    "sk_prod_abcdefghijkl",
    "pk_live_",
    "AKIA1234",
    "AKIAIOSFODNN7EXAMPLEX",
    "ASIA is a continent",
    "AIzaShort",
    "ghp_short",
    "xoxb-short",
    "eyJhbGciOiJIUzI1NiJ9",
    "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----",
    "user@localhost",
    "foo@bar",
    "pkg@1.2.3",
    "@mention",
    "see .-@example.com",
    "a@b.c",
    "1700000000",
    "1700000000123",
    "ts=1716000000000",
    "snowflake 1234567890123456789",
    "2024-01-15",
    "2024-01-15T12:30:00Z",
    "2024-01-15 12:30:00",
    "15.01.2024",
    "time 12:30:45",
    "v1.2.3",
    "10.15.7",
    "2.0.0-rc.1",
    "22.04.1-1234567",
    "192.168.100.200",
    "order 4155552671",
    "#4155552671",
    "ORD-415-555-2671",
    "input_tokens: 1234, output_tokens: 5678",
    "total 12 2024 2024 3",
    "3.14159265358979",
    "1 234 567 tokens",
    "12,345,678",
    "phone 555-0100",
    "room 12, floor 3",
    "000-12-3456",
    "666-12-3456",
    "900-12-3456",
    "123-00-4567",
    "123-45-0000",
    "123-45-6789-0",
    "4111 1111 1111 1112",
    "1234567890123456",
    "1111 1111 1111 1111",
    "4111 1111-1111 1111",
    "7111111111111111",
    "6757 937832 6030",  # Luhn-valid, but 4-6-4 is a Diners/Amex layout and 67 is neither
    "6353 4665 5694 8",
    "415-555-26710",
    "1.5 2.5 3.5 4.5 5.5 6.5",
    "see pages 1 - 2 - 3 - 4 of 1234567",
    "short",
]


def _id(value: str) -> str:
    return value[:32].replace("\n", " ")


@pytest.mark.parametrize(("text", "expected", "kind"), POSITIVES, ids=[_id(p[0]) for p in POSITIVES])
def test_positive_shapes_are_detected(
    redactor: Redactor, text: str, expected: str | None, kind: Kind | None
) -> None:
    matches = redactor.find(text)
    if kind is None:
        assert matches == []
        return
    assert [(text[m.start : m.end], m.kind) for m in matches] == [(expected or text, kind)]


@pytest.mark.parametrize("text", NEGATIVES, ids=[_id(n) for n in NEGATIVES])
def test_near_misses_are_not_detected(redactor: Redactor, text: str) -> None:
    assert redactor.find(text) == []


def test_several_secrets_in_one_string_are_each_found(redactor: Redactor) -> None:
    text = f"a {AWS} b alice@example.com c {GITHUB} d 123-45-6789 e {JWT}"
    kinds = [m.kind for m in redactor.find(text)]
    assert kinds == [Kind.TOKEN, Kind.EMAIL, Kind.TOKEN, Kind.SSN, Kind.TOKEN]


def test_a_secret_wins_over_a_phone_like_run_inside_it(redactor: Redactor) -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nAB+1 415 555 2671/CD\n-----END PRIVATE KEY-----"
    assert [(m.start, m.end, m.kind) for m in redactor.find(pem)] == [(0, len(pem), Kind.TOKEN)]


def test_a_list_of_formatted_phones_is_judged_number_by_number(redactor: Redactor) -> None:
    text = "415-555-2671 415-555-2672"
    assert [text[m.start : m.end] for m in redactor.find(text)] == ["415-555-2671", "415-555-2672"]


def test_a_space_separated_list_of_numbers_is_not_a_phone(redactor: Redactor) -> None:
    assert redactor.find("12 34 56 78 90 12 34 56") == []


def test_phone_region_changes_national_numbers_only() -> None:
    gb = Detectors(phone_region="gb")
    assert [m.kind for m in gb.find("call 020 7946 0958")] == [Kind.PHONE]
    assert Detectors().find("call 020 7946 0958") == []
    assert [m.kind for m in gb.find("+1 650 253 0000")] == [Kind.PHONE]


def test_phone_with_unknown_region_never_crashes() -> None:
    assert Detectors(phone_region="ZZ").find("call 415-555-2671") == []


@pytest.mark.parametrize(
    ("switch", "text"),
    [
        ("email", "alice@example.com"),
        ("phone", "+44 20 7946 0958"),
        ("ssn", "123-45-6789"),
        ("token_like", AWS),
        ("payment_card", "4111 1111 1111 1111"),
    ],
    ids=["email", "phone", "ssn", "token_like", "payment_card"],
)
def test_each_detector_can_be_switched_off(switch: str, text: str) -> None:
    assert Detectors().find(text)
    assert Detectors(**{switch: False}).find(text) == []  # type: ignore[arg-type]


def test_numbers_are_skipped_when_every_numeric_detector_is_off() -> None:
    off = Detectors(phone=False, ssn=False, payment_card=False)
    assert off.find("123-45-6789 4111 1111 1111 1111 415-555-2671") == []


def test_a_cluster_too_short_for_a_card_is_not_scanned_for_one() -> None:
    assert Detectors(phone=False, ssn=False).find("4111 1111") == []


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("5105105105105100", True),
        ("510510510510510", False),  # Mastercard length
        ("371449635398431", True),
        ("3714496353984310", False),  # Amex length
        ("30569309025904", True),
        ("3056930902590", False),  # Diners length
        ("3566002020360505", True),
        ("356600202036050", False),  # JCB length
        ("6011000990139424", True),
        ("601100099013942", True),  # 15-digit Discover/UnionPay range passes length; Luhn decides
        ("1234567812345670", False),  # no scheme starts with 1
        ("41111111111111", False),  # 14-digit Visa
    ],
)
def test_card_numbers_need_a_scheme_and_a_checksum(digits: str, valid: bool) -> None:
    assert is_card_number(digits) is (valid and luhn_ok(digits))


def test_find_secrets_is_reusable_by_the_scrubber() -> None:
    text = f"{OPENAI_PROJECT} and {AWS}"
    assert [text[s:e] for s, e in find_secrets(text)] == [OPENAI_PROJECT, AWS]
    assert find_secrets("gwk_test_1 gpt-4o-mini") == []


def test_overlapping_secret_formats_merge_so_nothing_leaks() -> None:
    text = "sk-" + JWT + "0"
    assert find_secrets(text) == [(0, len(text))]


def test_a_secret_prefix_glued_to_a_word_is_skipped_but_a_later_one_is_found() -> None:
    text = f"xsk-{OPENAI_PROJECT[3:]} {OPENAI_PROJECT}"
    assert [text[s:e] for s, e in find_secrets(text)] == [OPENAI_PROJECT]


def test_a_short_text_holds_no_secret() -> None:
    assert find_secrets("sk-") == []


def test_a_lower_priority_match_overlapping_an_accepted_one_is_refused(redactor: Redactor) -> None:
    glued = f"{OPENAI_PROJECT}@example.com"
    assert [(m.start, m.end, m.kind) for m in redactor.find(glued)] == [(0, len(OPENAI_PROJECT), Kind.TOKEN)]
    card_local_part = "4111111111111111@example.com"
    assert [(m.start, m.end, m.kind) for m in redactor.find(card_local_part)] == [(0, 28, Kind.EMAIL)]
