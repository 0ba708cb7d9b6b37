"""Token hashing and formats (auth-and-tenancy.md §2) and identity resolution (§4)."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ongoingai.auth.identity import Identity
from ongoingai.auth.keys import GatewayKey, generate_key_id, generate_token, hash_token, is_valid_key_id
from ongoingai.auth.roles import ANALYTICS_READ, PROXY_WRITE


def test_the_token_hash_is_lowercase_hex_sha256_of_the_raw_token() -> None:
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@given(st.text())
def test_every_hash_is_64_lowercase_hex_characters(token: str) -> None:
    digest = hash_token(token)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest == hashlib.sha256(token.encode()).hexdigest()


def test_generated_ids_are_gk_and_16_lowercase_hex() -> None:
    ids = {generate_key_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"gk_[0-9a-f]{16}", key_id) for key_id in ids)


def test_generated_tokens_are_ogk_and_unpadded_base64url_of_24_bytes() -> None:
    tokens = {generate_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert re.fullmatch(r"ogk_[A-Za-z0-9_-]{32}", token)
        assert len(base64.urlsafe_b64decode(token[4:])) == 24


@pytest.mark.parametrize(
    ("key_id", "valid"),
    [
        ("gk_0123456789abcdef", True),
        ("team.a:key-1", True),
        ("K", True),
        ("", False),
        ("-leading-dash", False),
        ("has/slash", False),
        ("has space", False),
        ("x" * 128, True),
        ("x" * 129, False),
    ],
    ids=["generated", "punctuation", "one-char", "empty", "leading-dash", "slash", "space", "128", "129"],
)
def test_key_ids_are_printable_and_bounded(key_id: str, valid: bool) -> None:
    assert is_valid_key_id(key_id) is valid


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, Identity("k", "default", "default", "default", "developer")),
        (
            {"org_id": " acme ", "workspace_id": "ws1"},
            Identity("k", "acme", "ws1", "ws1", "developer"),
        ),
        ({"team": "blue"}, Identity("k", "default", "blue", "blue", "developer")),
        ({"workspace_id": "ws1", "team": "blue"}, Identity("k", "default", "ws1", "blue", "developer")),
    ],
    ids=["defaults", "org-and-workspace", "team-as-workspace", "workspace-and-team"],
)
def test_identity_resolution_follows_the_spec_table(fields: dict[str, str], expected: Identity) -> None:
    identity = GatewayKey(id=" k ", token_hash="h", **fields).identity()

    assert (identity.key_id, identity.org_id, identity.workspace_id, identity.team, identity.role) == (
        expected.key_id,
        expected.org_id,
        expected.workspace_id,
        expected.team,
        expected.role,
    )
    assert identity.permissions == {PROXY_WRITE, ANALYTICS_READ}


def test_explicit_permissions_add_to_the_role_defaults() -> None:
    identity = GatewayKey(id="k", token_hash="h", role="viewer", permissions=("custom:thing",)).identity()

    assert identity.permissions == {ANALYTICS_READ, "custom:thing"}
