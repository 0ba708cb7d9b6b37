"""Roles and the permission matrix (auth-and-tenancy.md §5, DEVIATIONS.md "Empty role")."""

from __future__ import annotations

import pytest

from ongoingai.auth.roles import (
    ANALYTICS_READ,
    AUDIT_READ,
    KEYS_MANAGE,
    PROXY_WRITE,
    InvalidRoleError,
    normalise_permissions,
    permissions_for,
    resolve_role,
)

MATRIX = {
    "owner": {PROXY_WRITE, ANALYTICS_READ, KEYS_MANAGE, AUDIT_READ},
    "admin": {PROXY_WRITE, ANALYTICS_READ, KEYS_MANAGE, AUDIT_READ},
    "developer": {PROXY_WRITE, ANALYTICS_READ},
    "member": {PROXY_WRITE, ANALYTICS_READ},
    "viewer": {ANALYTICS_READ},
}


@pytest.mark.parametrize("role", list(MATRIX))
def test_each_role_has_exactly_its_permissions(role: str) -> None:
    assert permissions_for(role) == MATRIX[role]
    assert permissions_for(role.upper()) == MATRIX[role]


@pytest.mark.parametrize("role", ["", "root", "superuser", " "])
def test_an_empty_or_unknown_role_has_no_permission(role: str) -> None:
    assert permissions_for(role) == frozenset()


def test_an_omitted_role_means_developer() -> None:
    assert resolve_role(None) == "developer"


@pytest.mark.parametrize(("raw", "role"), [("Owner", "owner"), (" admin ", "admin"), ("VIEWER", "viewer")])
def test_roles_are_trimmed_and_lower_cased(raw: str, role: str) -> None:
    assert resolve_role(raw) == role


@pytest.mark.parametrize("raw", ["", "  ", "root"])
def test_an_empty_or_unknown_role_is_rejected_with_the_api_message(raw: str) -> None:
    with pytest.raises(InvalidRoleError) as caught:
        resolve_role(raw)
    assert str(caught.value) == f'invalid role "{raw}"'


def test_permissions_are_trimmed_lower_cased_deduplicated_and_empties_skipped() -> None:
    assert normalise_permissions([" Proxy:Write", "", "proxy:write", "x:Y ", "  "]) == ("proxy:write", "x:y")


def test_unknown_explicit_permissions_are_kept_but_grant_nothing_known() -> None:
    assert permissions_for("viewer", ["made:up"]) == {ANALYTICS_READ, "made:up"}
