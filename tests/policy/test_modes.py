"""Effective mode resolution (privacy-and-policy.md §2; DEVIATIONS.md "PII scope matching", observe)."""

from __future__ import annotations

from typing import Any

import pytest

from ongoingai.config.model import PiiSettings
from ongoingai.policy import EffectivePolicy, Mode, ModeError, PolicySubject
from ongoingai.policy.modes import ModeResolver, normalise_prefix, parse_mode, path_under


def resolver(capture_bodies: bool = False, **pii: Any) -> ModeResolver:
    return ModeResolver.from_settings(PiiSettings.model_validate(pii), capture_bodies=capture_bodies)


@pytest.mark.parametrize(
    ("mode", "capture", "expected"),
    [
        ("", False, Mode.OFF),
        ("", True, Mode.REDACT_STORAGE),
        ("  BLOCK ", False, Mode.BLOCK),
        ("Redact_Upstream", True, Mode.REDACT_UPSTREAM),
        ("observe", False, Mode.OBSERVE),
        ("off", True, Mode.OFF),
    ],
)
def test_global_mode(mode: str, capture: bool, expected: Mode) -> None:
    r = resolver(capture, mode=mode, policy_id="")
    assert r.resolve(PolicySubject()) == EffectivePolicy(expected, "default/v1")


def test_invalid_modes_name_all_five() -> None:
    with pytest.raises(ModeError, match="off, redact_storage, redact_upstream, block, observe"):
        parse_mode("strict")
    with pytest.raises(ModeError):
        resolver(mode="strict")
    with pytest.raises(ModeError):
        resolver(scopes=[{"match": {"org_id": "o"}, "mode": "strict"}])


def test_a_scope_without_selector_is_rejected() -> None:
    with pytest.raises(ModeError, match="selector"):
        resolver(scopes=[{"match": {"org_id": "  "}, "mode": "block"}])


SCOPES = [
    {"match": {"provider": "openai"}, "mode": "redact_storage", "policy_id": "p-provider"},
    {"match": {"org_id": "acme"}, "mode": "observe", "policy_id": "p-org"},
    {"match": {"org_id": "acme", "workspace_id": "ml"}, "mode": "block", "policy_id": "p-ws"},
    {"match": {"org_id": "acme", "provider": "openai"}, "mode": "redact_upstream", "policy_id": "p-tie"},
    {"match": {"key_id": " key-1 "}, "mode": "", "policy_id": "p-key-only"},
    {"match": {"route_prefix": "/anthropic/v1/"}, "mode": "BLOCK"},
    {"match": {"org_id": "default"}, "mode": "redact_upstream", "policy_id": "p-anon"},
    {"match": {"route_prefix": "/"}, "mode": "observe", "policy_id": "p-root"},
]


@pytest.mark.parametrize(
    ("subject", "mode", "policy_id", "scope"),
    [
        (PolicySubject("globex", "w", "k", "anthropic", "/x/v1"), Mode.OBSERVE, "p-root", 7),
        (PolicySubject("globex", "w", "k", "OpenAI", "/openai/v1"), Mode.REDACT_STORAGE, "p-provider", 0),
        (PolicySubject("acme", "w", "k", "anthropic", "/x"), Mode.OBSERVE, "p-org", 1),
        (PolicySubject(" acme ", "ml", "k", "anthropic", "/x"), Mode.BLOCK, "p-ws", 2),
        # two selectors each: the first declared wins the tie
        (PolicySubject("acme", "ml", "k", "openai", "/x"), Mode.BLOCK, "p-ws", 2),
        (PolicySubject("acme", "w", "k", "openai", "/x"), Mode.REDACT_UPSTREAM, "p-tie", 3),
        # an empty scope mode keeps the global mode, its policy id still applies
        (PolicySubject("globex", "w", "key-1", "anthropic", "/x"), Mode.REDACT_STORAGE, "p-key-only", 4),
        (PolicySubject("globex", "w", "k", "anthropic", "/anthropic/v1"), Mode.BLOCK, "policy-g", 5),
        (PolicySubject("globex", "w", "k", "anthropic", "/anthropic/v1/messages"), Mode.BLOCK, "policy-g", 5),
        (PolicySubject("globex", "w", "k", "anthropic", "/anthropic/v10"), Mode.OBSERVE, "p-root", 7),
        # unauthenticated: org `default` on both paths (DEVIATIONS.md), workspace `default`
        (PolicySubject("", "", "", "anthropic", "/x"), Mode.REDACT_UPSTREAM, "p-anon", 6),
    ],
)
def test_most_specific_matching_scope_wins(
    subject: PolicySubject, mode: Mode, policy_id: str, scope: int
) -> None:
    r = resolver(True, mode="redact_storage", policy_id=" policy-g ", scopes=SCOPES)
    assert r.resolve(subject) == EffectivePolicy(mode, policy_id, scope)


def test_no_matching_scope_keeps_the_global_policy() -> None:
    r = resolver(mode="block", scopes=[{"match": {"workspace_id": "default"}, "mode": "off"}])
    assert r.resolve(PolicySubject(workspace_id="ws")) == EffectivePolicy(Mode.BLOCK, "default/v1")
    assert r.resolve(PolicySubject()).mode is Mode.OFF


def test_mode_properties() -> None:
    assert [m.redacts_storage for m in Mode] == [False, True, True, True, True]
    assert [m.inspects_requests for m in Mode] == [False, False, True, True, True]


@pytest.mark.parametrize(
    ("prefix", "normalised"), [("", "/"), ("/", "/"), ("api/", "/api"), (" /a/b// ", "/a/b")]
)
def test_route_prefixes_normalise_like_provider_prefixes(prefix: str, normalised: str) -> None:
    assert normalise_prefix(prefix) == normalised


def test_path_under_uses_segment_boundaries() -> None:
    assert path_under("/anything", "/")
    assert path_under("/a", "/a")
    assert path_under("/a/b", "/a")
    assert not path_under("/ab", "/a")


def test_the_redactor_resolves_with_its_settings() -> None:
    from tests.policy.conftest import make_redactor

    assert make_redactor(mode="observe").resolve(PolicySubject()) == EffectivePolicy(
        Mode.OBSERVE, "default/v1"
    )
