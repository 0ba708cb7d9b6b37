"""The telemetry scrubber: observability.md §6 as changed by DEVIATIONS.md "Telemetry scrubbing"."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ongoingai.observability.scrub import REDACTED, Scrubber, scrub

POSITIVE = [
    ("openai_legacy", "sk-abcdefghij0123456789ABCDEFGHIJ"),
    ("openai_project", "sk-proj-Abc123def456ghi789jkl012mno345pqr678"),
    ("openai_service_account", "sk-svcacct-Abc123def456ghi789jkl012mno"),
    ("anthropic", "sk-ant-api03-Abc123def456ghi789jkl012mno345pqr678stu-AA"),
    ("google", "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
    ("aws", "AKIAIOSFODNN7EXAMPLE"),
    ("github_classic", "ghp_" + "a1B2c3D4e5" * 4),
    ("github_fine", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"),
    ("slack", "xoxb-1234567890-abcdefghij"),
    ("stripe_live", "sk_live_abc123def456"),
    ("stripe_restricted", "rk_test_abc123def456ghi"),
    ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("pem", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"),
    ("bearer", "Bearer abcdefghijklmnop"),
    ("password_assignment", "password=supersecret123"),
    ("token_assignment", "token = abcd1234efgh"),
    ("spec_underscore_pat", "pat_abcdefgh12345678"),
    ("gateway_generated", "ogk_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFi"),
    ("gateway_header", "X-OngoingAI-Gateway-Key: any-value-here"),
]

NEGATIVE = [
    "openai",
    "gpt-4o-mini",
    "gpt-4o-mini-2024-07-18",
    "claude-3-5-sonnet-20241022",
    "org-abc123",
    "/openai/v1/chat/completions",
    "timeout",
    "http 502",
    "gwk_test_1",
    "connection refused",
    "upstream_unreachable",
    "max_tokens=100 input_tokens=5",
    "sk-learn-compatible-wrapper",
    "task-force meeting",
    "corr-0123456789abcdef0123456789abcdef",
    "4bf92f3577b34da6a3ce929d0e0e4736",
    "batch had write failures",
]


@pytest.mark.parametrize(("kind", "secret"), POSITIVE, ids=[k for k, _ in POSITIVE])
def test_credentials_are_scrubbed(kind: str, secret: str) -> None:
    assert scrub(secret) == REDACTED
    embedded = scrub(f"upstream said: {secret} (retry)")
    assert secret not in embedded
    assert REDACTED in embedded


@pytest.mark.parametrize("text", NEGATIVE, ids=NEGATIVE)
def test_ordinary_values_pass_unchanged(text: str) -> None:
    assert scrub(text) == text


def test_short_strings_are_never_altered() -> None:
    assert scrub("sk-1234") == "sk-1234"


def test_result_is_trimmed() -> None:
    assert scrub("  Bearer abcdefghijklmnop  ") == REDACTED


def test_configured_tokens_and_header_are_scrubbed() -> None:
    scrubber = Scrubber(gateway_header="X-Team-Key", literals=["plain-team-token-42", "short"])
    assert scrubber.scrub("key plain-team-token-42 used") == f"key {REDACTED} used"
    assert scrubber.scrub("x-team-key=whatever-it-is") == REDACTED
    assert scrubber.scrub("short and sweet") == "short and sweet"  # literals under 8 chars are ignored


def test_labels_are_trimmed_scrubbed_and_never_empty() -> None:
    scrubber = Scrubber()
    assert scrubber.label("  acme  ") == "acme"
    assert scrubber.label("   ") == "unknown"
    assert scrubber.label("AKIAIOSFODNN7EXAMPLE") == REDACTED


def test_sequences_are_scrubbed_element_wise() -> None:
    scrubber = Scrubber()
    assert scrubber.value(["ok-value", "Bearer abcdefghijklmnop", 3]) == ["ok-value", REDACTED, 3]
    assert scrubber.value(42) == 42


_SECRETS = st.sampled_from([s for _, s in POSITIVE])
_WORDS = st.text(alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=20)


@given(_WORDS, _SECRETS, _WORDS)
def test_scrubbing_is_idempotent_and_leaves_no_secret(before: str, secret: str, after: str) -> None:
    text = f"{before} {secret} {after}"
    once = scrub(text)
    assert secret not in once
    assert scrub(once) == once
